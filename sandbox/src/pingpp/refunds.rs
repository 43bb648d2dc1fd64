//! Refunds of a charge: `POST /v1/charges/{id}/refunds` (`amount` — default what is left —,
//! `description` (required), `metadata`, `funding_source` for WeChat channels), `GET` for the
//! list and `GET /v1/charges/{id}/refunds/{re}`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post};

use super::charges::standalone_charge;
use super::errors::ApiError;
use super::lifecycle::{self, RefundRequest};
use super::requests::{self, Fields, ListQuery};
use super::{PingppSimulator, answer, ids, render};

const DESCRIPTION_MAX_CHARS: usize = 255;

pub fn routes() -> Router<Arc<PingppSimulator>> {
    Router::new()
        .route("/v1/charges/{id}/refunds", post(create_refund).get(list_refunds))
        .route("/v1/charges/{id}/refunds/{refund_id}", get(show_refund))
}

pub fn parse_description(fields: &Fields) -> Result<String, ApiError> {
    requests::limited_str(fields, "description", DESCRIPTION_MAX_CHARS)?
        .ok_or_else(|| ApiError::missing_param("description"))
}

pub fn parse_funding_source(fields: &Fields) -> Result<Option<String>, ApiError> {
    let source = requests::optional_str(fields, "funding_source")?;
    match source.as_deref() {
        None | Some("unsettled_funds") | Some("recharge_funds") => Ok(source),
        Some(other) => Err(ApiError::invalid_param(
            "funding_source",
            format!("参数 funding_source 不正确：{other}，可选 unsettled_funds 或 recharge_funds。"),
        )),
    }
}

async fn create_refund(
    State(simulator): State<Arc<PingppSimulator>>,
    Path(charge_id): Path<String>,
    body: Bytes,
) -> Response {
    let now = simulator.now();
    let request_id = ids::api_request();
    answer(simulator.transact(|state| {
        standalone_charge(state, &charge_id)?;
        let fields = requests::object(&body)?;
        let request = RefundRequest {
            amount: requests::optional_amount(&fields, "amount")?,
            description: parse_description(&fields)?,
            metadata: requests::metadata(&fields)?,
            funding_source: parse_funding_source(&fields)?,
            refund_mode: None,
            royalty_users: Vec::new(),
        };
        lifecycle::create_refund(state, &charge_id, request, now, Some(&request_id))
    }))
}

async fn list_refunds(
    State(simulator): State<Arc<PingppSimulator>>,
    Path(charge_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let query = ListQuery::parse(query.as_deref());
    let state = simulator.state();
    answer(standalone_charge(&state, &charge_id).and_then(|charge| {
        let newest_first = charge.refunds.iter().rev().collect();
        let (page, has_more) = query.page(newest_first, |refund| &refund.id)?;
        let data = page.into_iter().map(|refund| render::refund(charge, refund)).collect();
        Ok(render::list(format!("/v1/charges/{charge_id}/refunds"), data, has_more))
    }))
}

async fn show_refund(
    State(simulator): State<Arc<PingppSimulator>>,
    Path((charge_id, refund_id)): Path<(String, String)>,
) -> Response {
    let state = simulator.state();
    answer(standalone_charge(&state, &charge_id).and_then(|charge| {
        charge
            .refunds
            .iter()
            .find(|refund| refund.id == refund_id)
            .map(|refund| render::refund(charge, refund))
            .ok_or_else(|| ApiError::not_found("refund", &refund_id))
    }))
}
