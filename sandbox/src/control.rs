//! Control endpoints every simulator shares (the PayPal one serves them on its own port):
//!
//! | endpoint | body | effect |
//! |---|---|---|
//! | `GET /sandbox/clock` | | `{"now": "2030-01-01T00:00:00.000Z", "offset_seconds": 0}` |
//! | `POST /sandbox/clock/advance` | `{"by": "30d"}` (`"90m"`, `"3h"`, `"1w"`, `"1h30m"`, `"45s"`, or whole seconds as a number) | moves the shared test clock forward, runs every action that became due in (time, sequence) order, then answers `{"now", "ran_actions"}` |
//! | `GET /sandbox/scheduler` | | the queued actions: `{"pending": [{"at", "sequence", "label"}]}` |
//! | `GET /sandbox/chaos` | | the current chaos settings |
//! | `PUT /sandbox/chaos` | `{"drop_rate": 0.0, "duplicate_rate": 0.0, "delay_ms": [0, 0], "reorder": false}` (omitted fields take these defaults) | applies to every later webhook delivery; see [`crate::chaos`] |

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{Duration, SecondsFormat};
use payhub_core::Clock;
use serde_json::{Value, json};

use crate::Sandbox;
use crate::chaos::ChaosSettings;

/// The longest single step the clock takes, so a typo cannot overflow the calendar.
const MAX_STEP_DAYS: i64 = 366 * 100;

pub fn router(sandbox: Arc<Sandbox>) -> Router {
    Router::new()
        .route("/sandbox/clock", get(show_clock))
        .route("/sandbox/clock/advance", post(advance_clock))
        .route("/sandbox/scheduler", get(show_scheduler))
        .route("/sandbox/chaos", get(show_chaos).put(set_chaos))
        .with_state(sandbox)
}

async fn show_clock(State(sandbox): State<Arc<Sandbox>>) -> Response {
    axum::Json(clock_body(&sandbox, None)).into_response()
}

async fn advance_clock(State(sandbox): State<Arc<Sandbox>>, body: Bytes) -> Response {
    let step = match serde_json::from_slice::<Value>(&body) {
        Ok(request) => request.get("by").ok_or_else(|| "`by` is required".to_owned()).and_then(parse_step),
        Err(error) => Err(format!("the body must be JSON like {{\"by\": \"30d\"}}: {error}")),
    };
    match step {
        Ok(step) => {
            let ran = sandbox.advance(step).await;
            axum::Json(clock_body(&sandbox, Some(ran))).into_response()
        }
        Err(message) => bad_request(&message),
    }
}

async fn show_scheduler(State(sandbox): State<Arc<Sandbox>>) -> Response {
    axum::Json(json!({ "pending": sandbox.scheduler().pending() })).into_response()
}

async fn show_chaos(State(sandbox): State<Arc<Sandbox>>) -> Response {
    axum::Json(json!(sandbox.chaos().settings())).into_response()
}

async fn set_chaos(State(sandbox): State<Arc<Sandbox>>, body: Bytes) -> Response {
    let settings = match serde_json::from_slice::<ChaosSettings>(&body) {
        Ok(settings) => settings,
        Err(error) => return bad_request(&format!("chaos settings not understood: {error}")),
    };
    match sandbox.chaos().set(settings) {
        Ok(()) => axum::Json(json!(sandbox.chaos().settings())).into_response(),
        Err(message) => bad_request(&message),
    }
}

fn clock_body(sandbox: &Sandbox, ran: Option<usize>) -> Value {
    let mut body = json!({
        "now": sandbox.clock().now().to_rfc3339_opts(SecondsFormat::Millis, true),
        "offset_seconds": sandbox.clock().offset().num_seconds(),
    });
    if let Some(ran) = ran {
        body["ran_actions"] = json!(ran);
    }
    body
}

/// Reads a clock step: whole seconds as a JSON number, or a string of `<n><unit>` parts with
/// units `s`, `m`, `h`, `d`, `w` (`"1h30m"`); a bare number in a string is seconds.
pub fn parse_step(value: &Value) -> Result<Duration, String> {
    let step = match value {
        Value::Number(number) => number
            .as_u64()
            .and_then(|seconds| i64::try_from(seconds).ok())
            .map(Duration::seconds)
            .ok_or_else(|| format!("`by` must be a whole, non-negative number of seconds, got {number}"))?,
        Value::String(text) => parse_step_text(text)?,
        other => {
            return Err(format!("`by` must be a string like \"30d\" or a number of seconds, got {other}"));
        }
    };
    if step > Duration::days(MAX_STEP_DAYS) {
        return Err(format!("`by` may move the clock at most {MAX_STEP_DAYS} days at once"));
    }
    Ok(step)
}

fn parse_step_text(text: &str) -> Result<Duration, String> {
    let invalid = || format!("`{text}` is not a duration; use forms like \"30d\", \"90m\", \"3h\", \"1w\", \"1h30m\"");
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(invalid());
    }
    if trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return trimmed.parse::<i64>().map(Duration::seconds).map_err(|_| invalid());
    }
    let mut total = Duration::zero();
    let mut digits = String::new();
    for c in trimmed.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let amount: i64 = digits.parse().map_err(|_| invalid())?;
        digits.clear();
        let unit_seconds: i64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(invalid()),
        };
        let seconds = amount.checked_mul(unit_seconds).ok_or_else(invalid)?;
        if seconds > MAX_STEP_DAYS * 86_400 {
            return Err(invalid());
        }
        total += Duration::seconds(seconds);
    }
    if !digits.is_empty() {
        return Err(invalid());
    }
    Ok(total)
}

fn bad_request(message: &str) -> Response {
    let body = json!({ "name": "INVALID_REQUEST", "message": message });
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_steps_read_like_people_write_them() {
        let cases = [
            (json!("30d"), Duration::days(30)),
            (json!("90m"), Duration::minutes(90)),
            (json!("3h"), Duration::hours(3)),
            (json!("1w"), Duration::weeks(1)),
            (json!("1h30m"), Duration::minutes(90)),
            (json!("45s"), Duration::seconds(45)),
            (json!("120"), Duration::seconds(120)),
            (json!(3600), Duration::hours(1)),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_step(&input), Ok(expected), "{input}");
        }
    }

    #[test]
    fn nonsense_steps_are_refused() {
        for input in
            [json!(""), json!("d"), json!("3x"), json!("5h3"), json!(-5), json!(1.5), json!(null), json!("-3h")]
        {
            assert!(parse_step(&input).is_err(), "{input} should be refused");
        }
        assert!(parse_step(&json!("99999999999999999999d")).is_err());
        assert!(parse_step(&json!("40000d")).is_err());
    }
}
