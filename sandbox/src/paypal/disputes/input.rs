//! Reading a dispute action's request: a JSON body, or `multipart/form-data` whose `input` part
//! is that JSON and whose other parts are files, checked against PayPal's document rules.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::StatusCode;
use serde_json::{Map, Value};

use super::super::body::syntax;
use super::super::errors::{ApiError, ErrorDetail};
use super::super::order_request::{missing, text};
use super::super::{PaypalSimulator, header_text, parse_body};
use super::DISPUTES_DOC;
use super::model::Document;

/// PayPal takes `.jpg`, `.jpeg`, `.gif`, `.png` and `.pdf` documents.
pub const DOCUMENT_EXTENSIONS: [&str; 5] = ["jpg", "jpeg", "gif", "png", "pdf"];
/// Each document must be smaller than 10 MB.
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;
/// All documents of one call together may be up to 50 MB.
pub const MAX_TOTAL_DOCUMENT_BYTES: usize = 50 * 1024 * 1024;
/// The body limit of the disputes routes: the documents and room for the JSON and the framing.
pub const MAX_REQUEST_BYTES: usize = MAX_TOTAL_DOCUMENT_BYTES + 1024 * 1024;

/// An action's request: its JSON object and the documents that came with it.
pub struct ActionInput {
    pub json: Map<String, Value>,
    pub documents: Vec<Document>,
}

impl ActionInput {
    pub fn text(&self, key: &str, max: usize) -> Result<Option<String>, ApiError> {
        text(&self.json, key, &format!("/{key}"), max).map_err(|error| error.documented_at(DISPUTES_DOC))
    }

    pub fn required_text(&self, key: &str, max: usize) -> Result<String, ApiError> {
        self.text(key, max)?.ok_or_else(|| missing(&format!("/{key}")).documented_at(DISPUTES_DOC))
    }

    /// A required enum field, refused with the values it takes.
    pub fn required_enum<T>(&self, key: &str, parse: fn(&str) -> Option<T>) -> Result<T, ApiError> {
        let text = self.required_text(key, 255)?;
        parse(&text).ok_or_else(|| invalid_value(&format!("/{key}"), &text))
    }
}

pub fn invalid_value(pointer: &str, value: &str) -> ApiError {
    ApiError::invalid_request(
        ErrorDetail::body(pointer, "INVALID_PARAMETER_VALUE", "The value of a field is invalid.").with_value(value),
    )
    .documented_at(DISPUTES_DOC)
}

impl FromRequest<Arc<PaypalSimulator>> for ActionInput {
    type Rejection = ApiError;

    async fn from_request(request: Request, simulator: &Arc<PaypalSimulator>) -> Result<Self, ApiError> {
        let content_type = header_text(request.headers(), "content-type").unwrap_or_default().to_ascii_lowercase();
        if content_type.starts_with("multipart/form-data") {
            let multipart = Multipart::from_request(request, simulator).await.map_err(|_| malformed_multipart())?;
            return read_multipart(multipart).await;
        }
        if !(content_type.is_empty() || content_type.starts_with("application/json")) {
            return Err(ApiError::v1(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "The server does not support the request payload's media type.",
            )
            .documented_at(DISPUTES_DOC));
        }
        let body = Bytes::from_request(request, simulator).await.map_err(|_| ApiError::malformed_json())?;
        let json = object(parse_body(&body)?)?;
        Ok(Self { json, documents: Vec::new() })
    }
}

fn object(value: Value) -> Result<Map<String, Value>, ApiError> {
    match value {
        Value::Object(object) => Ok(object),
        other => Err(syntax("/", &other.to_string()).documented_at(DISPUTES_DOC)),
    }
}

fn malformed_multipart() -> ApiError {
    ApiError::invalid_request(ErrorDetail::body("/", "MALFORMED_REQUEST", "The multipart request is not well formed."))
        .documented_at(DISPUTES_DOC)
}

async fn read_multipart(mut multipart: Multipart) -> Result<ActionInput, ApiError> {
    let mut json = None;
    let mut documents = Vec::new();
    let mut total = 0usize;
    while let Some(field) = multipart.next_field().await.map_err(|_| malformed_multipart())? {
        if field.name() == Some("input") {
            let bytes = field.bytes().await.map_err(|_| malformed_multipart())?;
            json = Some(object(parse_body(&bytes)?)?);
            continue;
        }
        let name = field.file_name().map(str::to_owned).unwrap_or_default();
        let bytes = field.bytes().await.map_err(|_| malformed_multipart())?;
        check_document(&name, bytes.len())?;
        total += bytes.len();
        if total > MAX_TOTAL_DOCUMENT_BYTES {
            return Err(document_refused(
                "TOTAL_FILE_SIZE_LIMIT_EXCEEDED",
                "The documents of one request may be up to 50 MB together.",
                &name,
            ));
        }
        documents.push(Document { name });
    }
    Ok(ActionInput { json: json.unwrap_or_default(), documents })
}

/// PayPal's rules for one document: a known type (by its file name) and under 10 MB.
fn check_document(name: &str, size: usize) -> Result<(), ApiError> {
    let extension = name.rsplit_once('.').map(|(_, extension)| extension.to_ascii_lowercase());
    if !extension.is_some_and(|extension| DOCUMENT_EXTENSIONS.contains(&extension.as_str())) {
        return Err(document_refused(
            "INVALID_EVIDENCE_FILE",
            "Documents must be .jpg, .jpeg, .gif, .png or .pdf files.",
            name,
        ));
    }
    if size >= MAX_DOCUMENT_BYTES {
        return Err(document_refused("FILE_SIZE_LIMIT_EXCEEDED", "Each document must be smaller than 10 MB.", name));
    }
    Ok(())
}

fn document_refused(issue: &str, description: &str, name: &str) -> ApiError {
    ApiError::unprocessable(ErrorDetail::body("/evidence-file", issue, description).with_value(name))
        .documented_at(DISPUTES_DOC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_judged_by_type_and_size() {
        assert!(check_document("receipt.PDF", 1024).is_ok());
        assert!(check_document("photo.jpeg", MAX_DOCUMENT_BYTES - 1).is_ok());
        assert_eq!(check_document("notes.txt", 10).unwrap_err().first_issue(), Some("INVALID_EVIDENCE_FILE"));
        assert_eq!(check_document("no-extension", 10).unwrap_err().first_issue(), Some("INVALID_EVIDENCE_FILE"));
        assert_eq!(
            check_document("scan.png", MAX_DOCUMENT_BYTES).unwrap_err().first_issue(),
            Some("FILE_SIZE_LIMIT_EXCEEDED")
        );
    }
}
