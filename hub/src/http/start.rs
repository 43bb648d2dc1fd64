//! What a person opening the hub's address in a browser finds: a page pointing to the API
//! reference and the console, and the reference itself at `/docs`, rendered from
//! `/openapi.json` by Swagger UI. Its assets are compiled into the binary, so the reference
//! works on a machine with no internet access.

use axum::Router;
use maud::{DOCTYPE, Markup, html};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::app::Hub;

/// `GET /`.
pub async fn page() -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "payhub" }
                link rel="stylesheet" href="/admin/assets/console.css";
            }
            body {
                main {
                    h1 { "payhub" }
                    p { "One API for PayPal and Ping++ payments, refunds and a verified event stream." }
                    ul {
                        li { a href="/docs/" { "API reference" } " — every /v1 route, with examples" }
                        li { a href="/admin" { "Operator console" } " — payments, refunds and disputes" }
                        li { a href="/openapi.json" { "OpenAPI document" } " — for client generators" }
                    }
                }
            }
        }
    }
}

/// `/docs/`: Swagger UI over the document already served at `/openapi.json`. Its validator
/// badge would call an outside service, so it is off.
pub fn docs() -> Router<Hub> {
    SwaggerUi::new("/docs").config(Config::new(["/openapi.json"]).validator_url("none")).into()
}
