//! PayPal's published OpenAPI documents, read from `../shared/reference/paypal-openapi` beside
//! the repository (they are not shipped with it): their operations, the schema each response
//! must match, and validators for those schemas. Tests skip with a notice where they are absent.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

/// The documents, by file stem (`checkout_orders_v2`, …).
pub const SPEC_NAMES: [&str; 7] = [
    "checkout_orders_v2",
    "payments_payment_v2",
    "payments_payment_v1",
    "billing_subscriptions_v1",
    "catalogs_products_v1",
    "customer_disputes_v1",
    "notifications_webhooks_v1",
];

/// One operation of one document.
#[derive(Debug, Clone)]
pub struct Operation {
    pub spec: &'static str,
    /// Upper case, as HTTP sends it.
    pub method: String,
    /// The path template, `/v2/checkout/orders/{id}/capture`.
    pub template: String,
    pub operation_id: String,
    /// The JSON request body's schema, if the operation takes one.
    pub request: Option<Value>,
}

impl Operation {
    /// `spec operationId`: operation ids repeat across documents (`orders.get`).
    pub fn key(&self) -> String {
        format!("{} {}", self.spec, self.operation_id)
    }

    /// Whether `path` (no query) fits the template.
    fn fits(&self, path: &str) -> bool {
        let template: Vec<&str> = self.template.split('/').collect();
        let actual: Vec<&str> = path.split('/').collect();
        template.len() == actual.len()
            && template
                .iter()
                .zip(&actual)
                .all(|(expected, actual)| (expected.starts_with('{') && !actual.is_empty()) || expected == actual)
    }

    /// How many segments are literal: `/webhooks-events/{id}` wins over `/webhooks/{id}`-like
    /// templates when both fit.
    fn literal_segments(&self) -> usize {
        self.template.split('/').filter(|segment| !segment.starts_with('{')).count()
    }
}

pub struct Specs {
    documents: HashMap<&'static str, Value>,
    pub operations: Vec<Operation>,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

/// Where the documents are: `CARGO_MANIFEST_DIR/../../shared/reference/paypal-openapi`.
pub fn specs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference/paypal-openapi")
}

impl Specs {
    /// All seven documents, or `None` (after saying so) when they are not beside the repository.
    pub fn load() -> Option<Specs> {
        let mut documents = HashMap::new();
        for name in SPEC_NAMES {
            let path = specs_dir().join(format!("{name}.json"));
            let Ok(text) = std::fs::read_to_string(&path) else {
                eprintln!("skipped: {} is absent", path.display());
                return None;
            };
            documents.insert(name, serde_json::from_str(&text).expect("PayPal's OpenAPI documents are JSON"));
        }
        let mut operations = Vec::new();
        for name in SPEC_NAMES {
            let document: &Value = &documents[name];
            for (template, item) in document["paths"].as_object().into_iter().flatten() {
                for (method, operation) in item.as_object().into_iter().flatten() {
                    if !matches!(method.as_str(), "get" | "post" | "put" | "patch" | "delete") {
                        continue;
                    }
                    let body = resolve(document, &operation["requestBody"]);
                    operations.push(Operation {
                        spec: name,
                        method: method.to_uppercase(),
                        template: template.clone(),
                        operation_id: operation["operationId"].as_str().unwrap_or_default().to_owned(),
                        request: body["content"]["application/json"].get("schema").cloned(),
                    });
                }
            }
        }
        Some(Specs { documents, operations, validators: Mutex::default() })
    }

    pub fn document(&self, spec: &str) -> &Value {
        &self.documents[spec]
    }

    /// The operation `method path` calls (`path` without its query).
    pub fn operation(&self, method: &str, path: &str) -> Option<&Operation> {
        self.operations
            .iter()
            .filter(|operation| operation.method == method && operation.fits(path))
            .max_by_key(|operation| operation.literal_segments())
    }

    /// The schema of `operation`'s JSON answer with `status`, falling back to `default`.
    pub fn response_schema(&self, operation: &Operation, status: u16) -> Option<Value> {
        let document = self.document(operation.spec);
        let responses =
            &resolve(document, &document["paths"][&operation.template])[operation.method.to_lowercase()]["responses"];
        let response = responses.get(status.to_string()).or_else(|| responses.get("default"))?;
        let schema = resolve(document, response)["content"]["application/json"].get("schema")?;
        Some(without_issue_catalogs(schema))
    }

    /// A validator for `schema` of `spec` (compiled once), its `$ref`s resolved in the document.
    pub fn validator(&self, spec: &str, schema: &Value) -> Arc<jsonschema::Validator> {
        let key = format!("{spec} {schema}");
        if let Some(validator) = self.validators.lock().unwrap().get(&key) {
            return validator.clone();
        }
        let compiled = Arc::new(
            jsonschema::validator_for(&json_schema(self.document(spec), schema))
                .unwrap_or_else(|error| panic!("{spec}'s schema {schema} compiles: {error}")),
        );
        self.validators.lock().unwrap().insert(key, compiled.clone());
        compiled
    }

    /// What in `instance` breaks `schema` of `spec`, one line per error.
    pub fn violations(&self, spec: &str, schema: &Value, instance: &Value) -> Vec<String> {
        self.validator(spec, schema)
            .iter_errors(instance)
            .map(|error| format!("{} at {}", error, error.instance_path()))
            .collect()
    }

    /// Asserts that `instance` is a `schema_name` of `spec`'s components, and that the schema
    /// really applies (a body with `links` broken is refused).
    pub fn assert_matches(&self, spec: &str, schema_name: &str, instance: &Value) {
        let schema = json!({ "$ref": format!("#/components/schemas/{schema_name}") });
        let mut broken = instance.clone();
        broken["links"] = json!("not a list");
        assert!(!self.validator(spec, &schema).is_valid(&broken), "the {schema_name} schema is really applied");
        let errors = self.violations(spec, &schema, instance);
        assert!(errors.is_empty(), "{schema_name} does not match: {errors:#?}\n{instance:#}");
    }

    /// `schema` with its `$ref`s followed and `allOf` parts merged into one object schema
    /// (properties and required), as far as a generator of bad requests needs it.
    pub fn flatten(&self, spec: &str, schema: &Value) -> Value {
        let document = self.document(spec);
        let schema = resolve(document, schema);
        let Some(parts) = schema.get("allOf").and_then(Value::as_array) else {
            return schema.clone();
        };
        let mut merged: Map<String, Value> =
            schema.as_object().cloned().unwrap_or_default().into_iter().filter(|(key, _)| key != "allOf").collect();
        for part in parts {
            let part = self.flatten(spec, part);
            for (key, value) in part.as_object().into_iter().flatten() {
                match (key.as_str(), merged.get_mut(key)) {
                    ("properties", Some(Value::Object(properties))) => {
                        properties.extend(value.as_object().cloned().unwrap_or_default())
                    }
                    ("required", Some(Value::Array(required))) => {
                        required.extend(value.as_array().cloned().unwrap_or_default())
                    }
                    (_, Some(_)) => {}
                    (_, None) => {
                        merged.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        Value::Object(merged)
    }
}

/// Follows `value`'s `$ref` (to `#/components/…` of `document`), repeatedly.
pub fn resolve<'a>(document: &'a Value, mut value: &'a Value) -> &'a Value {
    while let Some(reference) = value.get("$ref").and_then(Value::as_str) {
        let Some(pointer) = reference.strip_prefix('#') else { break };
        match document.pointer(pointer) {
            Some(target) => value = target,
            None => break,
        }
    }
    value
}

/// The OpenAPI 3.0 schema as a JSON Schema document: the schema at the root, the document's
/// `components` beside it so `#/components/schemas/…` resolves. PayPal's documents use no
/// `nullable` and no OpenAPI-only keywords that change validation, so nothing else is rewritten.
fn json_schema(document: &Value, schema: &Value) -> Value {
    let mut root = match schema {
        Value::Object(object) => object.clone(),
        other => panic!("a schema is an object, got {other}"),
    };
    root.insert("components".into(), document["components"].clone());
    Value::Object(root)
}

/// An error response's schema is `allOf: [error_400, 400]` (or `[error_400,
/// subscriptions.suspend-400]`): the error shape, and a catalog of example issues with their
/// exact descriptions. The catalogs are not exhaustive (the subscriptions document's `400` lists
/// only `INVALID_PARAMETER_VALUE`, yet its request schemas have required fields, refused with
/// `MISSING_REQUIRED_PARAMETER`), and the documents say descriptions may change, so answers are
/// held to the error shape (`error_*`) alone.
fn without_issue_catalogs(schema: &Value) -> Value {
    let Some(parts) = schema.get("allOf").and_then(Value::as_array) else { return schema.clone() };
    let named = |part: &Value, prefix: &str| {
        part["$ref"].as_str().is_some_and(|reference| reference.starts_with(&format!("#/components/schemas/{prefix}")))
    };
    if !parts.iter().any(|part| named(part, "error")) {
        return schema.clone();
    }
    let mut schema = schema.clone();
    schema["allOf"] = Value::Array(parts.iter().filter(|part| named(part, "error")).cloned().collect());
    schema
}
