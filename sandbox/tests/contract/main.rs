//! The PayPal simulator held to PayPal's published OpenAPI documents.
//!
//! Real flows ([`scenarios`]) call every operation the simulator implements ([`implemented`])
//! with valid requests; every answer, success or error, must match the document's schema for its
//! status, and every HATEOAS link must lead to an implemented operation. From each operation's
//! valid JSON body, [`bad_requests`] derives requests the document refuses (a required field
//! removed, an enum value, pattern, length or bound broken, a wrong type); each must be refused
//! in PayPal's error shape with `details[]` naming the field. Operations of the documents the
//! simulator does not implement must answer PayPal's 404.
//!
//! The documents are read from `../shared/reference/paypal-openapi`; without them the test says
//! so and passes.

#[path = "../common/mod.rs"]
mod common;
#[path = "../openapi/mod.rs"]
mod openapi;
#[path = "../paypal_harness/mod.rs"]
mod paypal_harness;

mod bad_requests;
mod implemented;
mod scenarios;

use std::collections::BTreeSet;
use std::sync::Mutex;

use reqwest::Method;
use serde_json::Value;

use common::Answer;
use openapi::{Operation, Specs};
use paypal_harness::{TestSandbox, spawn_sandbox};

/// One call of PayPal's API the flows made, and what it answered.
#[derive(Clone)]
pub struct Exchange {
    pub method: Method,
    /// With the query, if any.
    pub path: String,
    pub status: u16,
    pub answer: Value,
}

impl Exchange {
    fn path_only(&self) -> &str {
        self.path.split('?').next().unwrap_or_default()
    }
}

/// The simulator under test, every exchange with it, and the verdicts on bad requests.
pub struct Contract<'a> {
    pub sandbox: TestSandbox,
    pub specs: &'a Specs,
    token: Mutex<String>,
    exchanges: Mutex<Vec<Exchange>>,
    /// Operations whose first JSON body has been turned into bad twins.
    twinned: Mutex<BTreeSet<String>>,
    pub verdicts: Mutex<bad_requests::Verdicts>,
}

impl<'a> Contract<'a> {
    async fn start(specs: &'a Specs) -> Contract<'a> {
        let sandbox = spawn_sandbox().await;
        let token = sandbox.token().await;
        Contract {
            sandbox,
            specs,
            token: Mutex::new(token),
            exchanges: Mutex::default(),
            twinned: Mutex::default(),
            verdicts: Mutex::default(),
        }
    }

    pub fn token(&self) -> String {
        self.token.lock().unwrap().clone()
    }

    /// A new token, after the test clock moved past the old one's nine hours.
    pub async fn renew_token(&self) {
        let token = self.sandbox.token().await;
        *self.token.lock().unwrap() = token;
    }

    /// Whether this is the first JSON body sent to `operation` (and so the one to twin).
    pub fn first_body_of(&self, operation: &Operation) -> bool {
        self.twinned.lock().unwrap().insert(operation.key())
    }

    /// Calls PayPal's API with the merchant's token and records the exchange; the first JSON
    /// body of each operation is preceded by its bad twins.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        if let Some(json) = &body
            && let Some(operation) = self.specs.operation(method.as_str(), path.split('?').next().unwrap_or_default())
        {
            bad_requests::send_bad_twins(self, operation, &method, path, json).await;
        }
        self.send(method, path, body).await
    }

    /// Sends one request and records the exchange.
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let request =
            self.sandbox.http.request(method.clone(), format!("{}{path}", self.sandbox.url)).bearer_auth(self.token());
        let answer = common::send(request, body).await;
        self.exchanges.lock().unwrap().push(Exchange {
            method,
            path: path.to_owned(),
            status: answer.status.as_u16(),
            answer: answer.body.clone(),
        });
        answer
    }

    /// Calls and asserts the answer is `status`; returns the body.
    pub async fn expect(&self, status: u16, method: Method, path: &str, body: Option<Value>) -> Value {
        let answer = self.call(method.clone(), path, body).await;
        assert_eq!(answer.status.as_u16(), status, "{method} {path}: {}", answer.body);
        answer.body
    }

    /// A control endpoint of the sandbox (not PayPal's API, not recorded).
    pub async fn control(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let answer = self.sandbox.control(method.clone(), path, body).await;
        assert!(answer.status.is_success(), "{method} {path}: {}", answer.body);
        answer.body
    }

    fn exchanges(&self) -> Vec<Exchange> {
        self.exchanges.lock().unwrap().clone()
    }
}

/// Where the simulator answers what PayPal's servers answer rather than what its document says,
/// as (document, the end of the violation's text).
const ANSWERED_AS_PAYPAL_DOES: &[(&str, &str)] = &[
    // v1 payments link `approval_url` with `"method": "REDIRECT"`, as PayPal's v1 API reference
    // shows and its SDKs read, though the document's link schema lists HTTP methods only.
    ("payments_payment_v1", "\"REDIRECT\" is not one of \"GET\", \"POST\" or 6 other candidates"),
];

/// What an answer breaks of the document: its schema for the status, or the error shape.
fn schema_violations(specs: &Specs, operation: &Operation, exchange: &Exchange) -> Vec<String> {
    let as_paypal_does = |violation: &String| {
        ANSWERED_AS_PAYPAL_DOES.iter().any(|(spec, text)| *spec == operation.spec && violation.starts_with(text))
    };
    match specs.response_schema(operation, exchange.status) {
        Some(schema) if exchange.answer != Value::Null => specs
            .violations(operation.spec, &schema, &exchange.answer)
            .into_iter()
            .filter(|violation| !as_paypal_does(violation))
            .collect(),
        Some(_) => vec![format!("an empty body where the document describes one for {}", exchange.status)],
        None if exchange.answer == Value::Null => Vec::new(),
        None => vec![format!("a body where the document describes none for {}", exchange.status)],
    }
}

/// Every `links[]` entry anywhere in `value`, as (method, href).
fn links(value: &Value, found: &mut Vec<(String, String)>) {
    match value {
        Value::Object(object) => {
            if let Some(Value::Array(items)) = object.get("links") {
                for link in items {
                    if let Some(href) = link["href"].as_str() {
                        let method = link["method"].as_str().unwrap_or("GET").to_uppercase();
                        found.push((method, href.to_owned()));
                    }
                }
            }
            object.values().for_each(|inner| links(inner, found));
        }
        Value::Array(items) => items.iter().for_each(|inner| links(inner, found)),
        _ => {}
    }
}

/// PayPal's shape for a path it does not serve: 404 with a name, a message and a debug id.
fn is_paypal_not_found(answer: &Answer) -> bool {
    answer.status.as_u16() == 404
        && answer.body["name"].is_string()
        && answer.body["message"].is_string()
        && answer.body["debug_id"].is_string()
}

#[tokio::test]
async fn every_implemented_paypal_operation_keeps_to_paypals_openapi_documents() {
    let Some(specs) = Specs::load() else { return };
    let implemented = implemented::operations(&specs);
    let contract = Contract::start(&specs).await;
    scenarios::run(&contract).await;
    let exchanges = contract.exchanges();
    let mut verdicts = std::mem::take(&mut *contract.verdicts.lock().unwrap());
    verdicts.finish();

    // Every answer matches the document's schema for its status.
    let mut failures = Vec::new();
    let mut covered = BTreeSet::new();
    for exchange in &exchanges {
        let Some(operation) = specs.operation(exchange.method.as_str(), exchange.path_only()) else { continue };
        let violations = schema_violations(&specs, operation, exchange);
        if !violations.is_empty() {
            failures.push(format!(
                "{} {} answered {} against {}: {violations:#?}\n{:#}",
                exchange.method,
                exchange.path,
                exchange.status,
                operation.key(),
                exchange.answer
            ));
        }
        if (200..300).contains(&exchange.status) || implemented::refused_to_merchants(operation, exchange.status) {
            covered.insert(operation.key());
        }
    }

    // Links lead only to operations the simulator implements.
    for exchange in &exchanges {
        let mut found = Vec::new();
        links(&exchange.answer, &mut found);
        for (method, href) in found {
            let Some(path) = href.strip_prefix(&contract.sandbox.url) else { continue };
            let path = path.split('?').next().unwrap_or_default();
            if let Some(operation) = specs.operation(&method, path)
                && !implemented.contains(&operation.key())
            {
                failures.push(format!(
                    "{} {} links to {method} {path}, {} is not implemented",
                    exchange.method,
                    exchange.path,
                    operation.key()
                ));
            }
        }
    }

    // Operations the simulator does not implement answer PayPal's 404.
    for operation in specs.operations.iter().filter(|operation| !implemented.contains(&operation.key())) {
        let path = operation.template.split('/').map(|segment| if segment.starts_with('{') { "X0" } else { segment });
        let path = path.collect::<Vec<_>>().join("/");
        let method = Method::from_bytes(operation.method.as_bytes()).unwrap();
        let body = matches!(operation.method.as_str(), "POST" | "PATCH" | "PUT").then(|| serde_json::json!({}));
        let request = contract.sandbox.http.request(method.clone(), format!("{}{path}", contract.sandbox.url));
        let answer = common::send(request.bearer_auth(contract.token()), body).await;
        if !is_paypal_not_found(&answer) {
            failures.push(format!(
                "{} (not implemented) {method} {path} answered {} {}",
                operation.key(),
                answer.status,
                answer.body
            ));
        }
    }

    // Requests the documents refuse are refused, naming the field.
    failures.extend(verdicts.failures.iter().cloned());

    let uncovered: Vec<&String> = implemented.iter().filter(|key| !covered.contains(*key)).collect();
    eprintln!(
        "contract: {} operations covered / {} implemented / {} in the specs; {} negative cases generated, {} enforced ({} known unenforced)",
        covered.intersection(&implemented).count(),
        implemented.len(),
        specs.operations.len(),
        verdicts.generated,
        verdicts.enforced,
        verdicts.known_unenforced,
    );
    eprintln!("contract: negative cases per operation: {:?}", verdicts.per_operation);
    assert!(uncovered.is_empty(), "implemented but never answered a valid request: {uncovered:#?}");
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n\n"));
}
