//! Requests PayPal's documents refuse, derived from each operation's request schema and the valid
//! body a flow sent: every required field present removed, every enum value replaced by a
//! non-member, every pattern, length, item count and numeric bound broken, every typed field given
//! another JSON type. Each must be refused (400 or 422) in PayPal's error shape with a `details[]`
//! entry whose `field` names the broken field as a JSON pointer (v1 APIs may spell it
//! `transactions[0].amount.total`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use reqwest::Method;

use crate::Contract;
use crate::openapi::{Operation, Specs};

/// Bad requests the simulator still accepts or refuses without naming the field, as
/// (operation key, field pointer, kind), each with a comment saying why. The test fails on any
/// gap not listed here and on any entry that no longer matches a gap, so the list stays exact.
/// Empty: every bad request derived today is refused as the documents say.
const KNOWN_UNENFORCED: &[(&str, &str, &str)] = &[];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Missing,
    Enum,
    Pattern,
    MaxLength,
    MinLength,
    MaxItems,
    Maximum,
    Minimum,
    Type,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Missing => "missing",
            Kind::Enum => "enum",
            Kind::Pattern => "pattern",
            Kind::MaxLength => "maxLength",
            Kind::MinLength => "minLength",
            Kind::MaxItems => "maxItems",
            Kind::Maximum => "maximum",
            Kind::Minimum => "minimum",
            Kind::Type => "type",
        }
    }
}

struct BadRequest {
    pointer: String,
    kind: Kind,
    body: Value,
}

#[derive(Default)]
pub struct Verdicts {
    pub generated: usize,
    pub enforced: usize,
    pub known_unenforced: usize,
    pub failures: Vec<String>,
    pub per_operation: BTreeMap<String, usize>,
    /// The entries of [`KNOWN_UNENFORCED`] that matched a gap.
    unenforced_known: BTreeSet<(&'static str, &'static str, &'static str)>,
}

impl Verdicts {
    /// Closes the books: an entry of [`KNOWN_UNENFORCED`] that was never seen is a failure too.
    pub fn finish(&mut self) {
        for entry @ (key, pointer, kind) in KNOWN_UNENFORCED {
            if !self.unenforced_known.contains(entry) {
                self.failures.push(format!("KNOWN_UNENFORCED lists ({key}, {pointer}, {kind}), which is enforced now"));
            }
        }
    }
}

/// Before the first valid call of each operation with a JSON body, sends its bad twins, in the
/// state where the valid one succeeds (PayPal checks a request's shape before its business rules,
/// but a twin the simulator wrongly accepts must not be excused by a later state).
pub async fn send_bad_twins(contract: &Contract<'_>, operation: &Operation, method: &Method, path: &str, body: &Value) {
    let Some(schema) = &operation.request else { return };
    if crate::implemented::refused_to_merchants(operation, 403) {
        return; // refused for the caller before the body is read
    }
    if !contract.first_body_of(operation) {
        return;
    }
    let specs = contract.specs;
    let mut bad = Vec::new();
    Generator { specs, spec: operation.spec, root: body, out: &mut bad }.walk(schema, body, "", false);
    for request in &bad {
        let answer = contract.send(method.clone(), path, Some(request.body.clone())).await;
        let refused = matches!(answer.status.as_u16(), 400 | 422) && answer.body["name"].is_string();
        let named = answer.body["details"].as_array().is_some_and(|details| {
            details.iter().any(|detail| names(&detail["field"], &request.pointer, &request.body))
        });
        let mut verdicts = contract.verdicts.lock().unwrap();
        if refused && named {
            verdicts.enforced += 1;
            continue;
        }
        let case = (operation.key(), request.pointer.as_str(), request.kind.name());
        if let Some(entry) =
            KNOWN_UNENFORCED.iter().find(|(key, pointer, kind)| (*key, *pointer, *kind) == (&case.0, case.1, case.2))
        {
            verdicts.known_unenforced += 1;
            verdicts.unenforced_known.insert(*entry);
            continue;
        }
        verdicts.failures.push(format!(
            "{method} {path} with {} broken at {}: answered {} {}\nsent {}",
            request.kind.name(),
            request.pointer,
            answer.status,
            answer.body,
            request.body
        ));
    }
    let mut verdicts = contract.verdicts.lock().unwrap();
    verdicts.generated += bad.len();
    verdicts.per_operation.insert(operation.key(), bad.len());
}

/// Whether an error detail's `field` names `pointer`: as the pointer, in v1's dotted form
/// (`transactions[0].amount.total`), or in Orders' `/purchase_units/@reference_id=='default'/…`.
fn names(field: &Value, pointer: &str, body: &Value) -> bool {
    let Some(field) = field.as_str() else { return false };
    field == pointer || field == dotted(pointer) || by_reference_id(field, body).is_some_and(|field| field == pointer)
}

fn dotted(pointer: &str) -> String {
    let mut dotted = String::new();
    for segment in pointer.trim_start_matches('/').split('/') {
        if segment.chars().all(|c| c.is_ascii_digit()) && !dotted.is_empty() {
            dotted.push_str(&format!("[{segment}]"));
        } else {
            if !dotted.is_empty() {
                dotted.push('.');
            }
            dotted.push_str(segment);
        }
    }
    dotted
}

/// `field` with each `@reference_id=='…'` segment replaced by the index of that unit in `body`.
fn by_reference_id(field: &str, body: &Value) -> Option<String> {
    let mut resolved = String::new();
    for segment in field.split('/').skip(1) {
        let segment = match segment.strip_prefix("@reference_id=='").and_then(|rest| rest.strip_suffix("'")) {
            Some(reference) => {
                let units = body.pointer(&resolved)?.as_array()?;
                let index =
                    units.iter().position(|unit| unit["reference_id"].as_str().unwrap_or("default") == reference)?;
                index.to_string()
            }
            None => segment.to_owned(),
        };
        resolved.push('/');
        resolved.push_str(&segment);
    }
    Some(resolved)
}

struct Generator<'a> {
    specs: &'a Specs,
    spec: &'static str,
    root: &'a Value,
    out: &'a mut Vec<BadRequest>,
}

impl Generator<'_> {
    fn push(&mut self, pointer: &str, kind: Kind, replacement: Option<Value>) {
        let mut body = self.root.clone();
        match replacement {
            Some(value) => *body.pointer_mut(pointer).expect("the pointer is in the body") = value,
            None => {
                let (parent, key) = pointer.rsplit_once('/').expect("a pointer below the root");
                let key = key.replace("~1", "/").replace("~0", "~");
                body.pointer_mut(parent).and_then(Value::as_object_mut).expect("an object").remove(&key);
            }
        }
        self.out.push(BadRequest { pointer: pointer.to_owned(), kind, body });
    }

    /// Derives bad requests for `value` at `pointer`, which `schema` describes.
    fn walk(&mut self, schema: &Value, value: &Value, pointer: &str, below_root: bool) {
        let schema = self.specs.flatten(self.spec, schema);
        if schema.get("anyOf").is_some() || schema.get("oneOf").is_some() {
            return; // which alternative applies is not for a generator to guess
        }
        if below_root {
            self.scalar_rules(&schema, value, pointer);
        }
        match value {
            Value::Object(object) => {
                for name in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                    if object.contains_key(name) {
                        self.push(&format!("{pointer}/{}", escape(name)), Kind::Missing, None);
                    }
                }
                for (name, inner) in object {
                    if let Some(inner_schema) = schema["properties"].get(name) {
                        self.walk(inner_schema, inner, &format!("{pointer}/{}", escape(name)), true);
                    }
                }
            }
            Value::Array(items) => {
                if let (Some(max), Some(first)) = (schema["maxItems"].as_u64(), items.first())
                    && max < 50
                {
                    self.push(pointer, Kind::MaxItems, Some(Value::Array(vec![first.clone(); max as usize + 1])));
                }
                if let (Some(item_schema), Some(first)) = (schema.get("items"), items.first()) {
                    self.walk(item_schema, first, &format!("{pointer}/0"), true);
                }
            }
            _ => {}
        }
    }

    fn scalar_rules(&mut self, schema: &Value, value: &Value, pointer: &str) {
        if let Some(members) = schema["enum"].as_array()
            && value.is_string()
        {
            let outsider = json!("NOT_A_MEMBER");
            if !members.contains(&outsider) {
                self.push(pointer, Kind::Enum, Some(outsider));
            }
        }
        if let Some(text) = value.as_str() {
            if let Some(pattern) = schema["pattern"].as_str()
                && let Some(breaking) = self.pattern_breaker(pattern, schema)
            {
                self.push(pointer, Kind::Pattern, Some(json!(breaking)));
            }
            if let Some(max) = schema["maxLength"].as_u64()
                && max < 100_000
            {
                let filler = text.chars().last().unwrap_or('1').to_string();
                let long =
                    format!("{text}{}", filler.repeat(max as usize + 1 - text.chars().count().min(max as usize)));
                self.push(pointer, Kind::MaxLength, Some(json!(long)));
            }
            if let Some(min) = schema["minLength"].as_u64()
                && min > 0
            {
                let short: String = text.chars().take(min as usize - 1).collect();
                self.push(pointer, Kind::MinLength, Some(json!(short)));
            }
        }
        if value.is_number() {
            if let Some(max) = schema["maximum"].as_f64() {
                self.push(pointer, Kind::Maximum, Some(number_like(value, max + 1.0)));
            }
            if let Some(min) = schema["minimum"].as_f64() {
                self.push(pointer, Kind::Minimum, Some(number_like(value, min - 1.0)));
            }
        }
        let wrong = match schema["type"].as_str() {
            Some("string") => Some(json!(true)),
            Some("object" | "array" | "integer" | "number" | "boolean") => Some(json!("not-a-value")),
            _ => None,
        };
        if let Some(wrong) = wrong {
            self.push(pointer, Kind::Type, Some(wrong));
        }
    }

    /// A string the pattern refuses but that keeps the schema's other rules where it can.
    fn pattern_breaker(&self, pattern: &str, schema: &Value) -> Option<String> {
        let check = json!({ "type": "string", "pattern": pattern });
        let validator = jsonschema::validator_for(&check).ok()?;
        let max = schema["maxLength"].as_u64().unwrap_or(u64::MAX) as usize;
        ["~", "!!", "#%&", "-1", "0", "a", "A", " "]
            .into_iter()
            .filter(|candidate| candidate.len() <= max)
            .find(|candidate| !validator.is_valid(&json!(candidate)))
            .map(str::to_owned)
    }
}

/// `number` as an integer where `like` is one.
fn number_like(like: &Value, number: f64) -> Value {
    if like.is_i64() || like.is_u64() { json!(number as i64) } else { json!(number) }
}

fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}
