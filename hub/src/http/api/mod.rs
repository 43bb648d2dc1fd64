//! The merchant API under `/v1`. Each resource module owns its routes and exposes `router()`;
//! they are merged here, behind API-key authentication and the idempotency layer.

mod diagnostics;
mod disputes;
mod endpoints;
mod events;
mod fields;
mod list;
mod payments;
mod plans;
mod refunds;
mod subscriptions;

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::app::Hub;

pub use disputes::body_limit;
pub use list::{List, ListParams};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "payhub",
        description = "One API for PayPal and Ping++ payments, refunds and a verified, deduplicated event stream.\n\n\
            Authenticate with `Authorization: Bearer <API key>`. Every POST needs an `Idempotency-Key`. \
            Amounts are integers in the currency's minor unit. Errors are RFC 9457 problem+json."
    ),
    components(schemas(crate::http::error::Problem)),
    modifiers(&ApiKeyAuth),
    security(("api_key" = []))
)]
pub struct ApiDoc;

struct ApiKeyAuth;

impl utoipa::Modify for ApiKeyAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("api_key", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

pub fn router() -> OpenApiRouter<Hub> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(payments::router())
        .merge(refunds::router())
        .merge(events::router())
        .merge(endpoints::router())
        .merge(plans::router())
        .merge(subscriptions::router())
        .merge(disputes::router())
        .merge(diagnostics::router())
}
