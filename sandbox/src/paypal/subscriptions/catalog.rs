//! Catalog Products v1: create, list, show and update products (`/v1/catalogs/products…`). A
//! plan belongs to a product.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;

use super::super::auth::Merchant;
use super::super::errors::{ApiError, ErrorDetail};
use super::super::events::NewEvent;
use super::super::render::link;
use super::super::{Effect, PaypalSimulator, answer};
use super::fields::{body_object, bounded_text, choice, invalid_value, missing, refused, required_text, text, web_url};
use super::json_patch::{PatchOperation, patch_operations, patch_text};
use super::model::{Product, ProductType};
use super::product_categories::PRODUCT_CATEGORIES;
use super::{CATALOG_DOC, KEY_RETENTION, Page, PageQuery};
use crate::ids;

pub fn routes() -> Router<Arc<PaypalSimulator>> {
    Router::new()
        .route("/v1/catalogs/products", post(create_product).get(list_products))
        .route("/v1/catalogs/products/{id}", get(show_product).patch(patch_product))
}

async fn create_product(
    State(simulator): State<Arc<PaypalSimulator>>,
    merchant: Merchant,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let client_id = merchant.client_id;
    simulator.idempotent_post(&client_id, "/v1/catalogs/products", &headers, KEY_RETENTION, |state| {
        let create = || {
            let request = body_object(&body, true)?;
            let now = simulator.now();
            let id = match text(&request, "id", "/id", 50)? {
                Some(id) if state.subscriptions.products.contains_key(&id) => {
                    return Err(refused("DUPLICATE_RESOURCE_IDENTIFIER", "A product with this ID already exists."));
                }
                Some(id) => id,
                None => format!("PROD-{}", ids::upper_alphanumeric(17)),
            };
            let category = bounded_text(&request, "category", "/category", 4, 256)?;
            if let Some(category) = &category
                && !PRODUCT_CATEGORIES.contains(&category.as_str())
            {
                return Err(invalid_value("/category", category));
            }
            Ok(Product {
                id,
                client_id: client_id.clone(),
                name: required_text(&request, "name", "/name", 127)?,
                description: text(&request, "description", "/description", 256)?,
                // Required by PayPal's schema, though its older guides show products without one.
                kind: choice(&request, "type", "/type", ProductType::parse)?.ok_or_else(|| missing("/type"))?,
                category,
                image_url: web_url(&request, "image_url", "/image_url")?,
                home_url: web_url(&request, "home_url", "/home_url")?,
                create_time: now,
                update_time: now,
            })
        };
        let product = create().map_err(|error| error.documented_at(CATALOG_DOC))?;
        let body = simulator.product_json(&product);
        let event = Effect::Emit(NewEvent {
            client_id: product.client_id.clone(),
            event_type: "CATALOG.PRODUCT.CREATED",
            resource_type: "product",
            summary: "A product is created.".to_owned(),
            resource: body.clone(),
        });
        let book = &mut state.subscriptions;
        book.product_order.push(product.id.clone());
        book.products.insert(product.id.clone(), product);
        Ok(((StatusCode::CREATED, body), vec![event]))
    })
}

async fn list_products(
    State(simulator): State<Arc<PaypalSimulator>>,
    merchant: Merchant,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let page = match Page::read(query) {
        Ok(page) => page,
        Err(error) => return error.documented_at(CATALOG_DOC).into_response(),
    };
    let state = simulator.state();
    let book = &state.subscriptions;
    let mine: Vec<&Product> = book
        .product_order
        .iter()
        .filter_map(|id| book.products.get(id))
        .filter(|product| product.client_id == merchant.client_id)
        .collect();
    let url = format!("{}/v1/catalogs/products", simulator.base_url());
    page.answer("products", &mine, &url, |product| simulator.product_summary_json(product))
}

async fn show_product(
    State(simulator): State<Arc<PaypalSimulator>>,
    merchant: Merchant,
    Path(id): Path<String>,
) -> Response {
    let state = simulator.state();
    let product = state.subscriptions.products.get(&id).filter(|product| product.client_id == merchant.client_id);
    let outcome = product
        .map(|product| simulator.product_json(product))
        .ok_or_else(|| ApiError::not_found("product_id", &id).documented_at(CATALOG_DOC));
    answer(StatusCode::OK, outcome)
}

/// PayPal lets a product's `description`, `category`, `image_url` and `home_url` change; the
/// name and type stay as created.
async fn patch_product(
    State(simulator): State<Arc<PaypalSimulator>>,
    merchant: Merchant,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let outcome = patch_operations(&body).and_then(|operations| {
        simulator.transact(|state| {
            let product = state
                .subscriptions
                .products
                .get_mut(&id)
                .filter(|product| product.client_id == merchant.client_id)
                .ok_or_else(|| ApiError::not_found("product_id", &id))?;
            let mut patched = product.clone();
            for (index, operation) in operations.iter().enumerate() {
                apply_product_patch(operation, &format!("/{index}"), &mut patched)?;
            }
            patched.update_time = simulator.now();
            *product = patched;
            let event = Effect::Emit(NewEvent {
                client_id: product.client_id.clone(),
                event_type: "CATALOG.PRODUCT.UPDATED",
                resource_type: "product",
                summary: "A product is updated.".to_owned(),
                resource: simulator.product_json(product),
            });
            Ok(((), vec![event]))
        })
    });
    match outcome {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => error.documented_at(CATALOG_DOC).into_response(),
    }
}

/// One operation of a product patch; `pointer` names it in the body (`/0`).
fn apply_product_patch(operation: &PatchOperation, pointer: &str, product: &mut Product) -> Result<(), ApiError> {
    let (path, value) = (operation.path.as_str(), &operation.value);
    match path {
        "/description" => product.description = Some(patch_text(value, path, 256)?),
        "/category" => {
            let category = patch_text(value, path, 256)?;
            if !PRODUCT_CATEGORIES.contains(&category.as_str()) {
                return Err(invalid_value(path, &category));
            }
            product.category = Some(category);
        }
        "/image_url" | "/home_url" => {
            let url = patch_text(value, path, 2000)?;
            let url = super::super::body::http_url(url, path)?;
            if path == "/image_url" {
                product.image_url = Some(url);
            } else {
                product.home_url = Some(url);
            }
        }
        _ => {
            return Err(ApiError::invalid_request(
                ErrorDetail::body(
                    &format!("{pointer}/path"),
                    "INVALID_PATCH_PATH",
                    "The specified field cannot be patched.",
                )
                .with_value(path),
            ));
        }
    }
    Ok(())
}

/// Links of a list page: itself, and the next page when there is one.
pub fn page_links(url: &str, page: &Page, total: usize) -> Vec<Value> {
    let mut links = vec![link(format!("{url}?page_size={}&page={}", page.size, page.number), "self", "GET")];
    if page.number * page.size < total {
        links.push(link(format!("{url}?page_size={}&page={}", page.size, page.number + 1), "next", "GET"));
    }
    links
}
