//! `payhub listen`: the hub's events, live, on a developer's machine. A temporary webhook
//! endpoint is registered on the hub pointing at a loopback port this command listens on;
//! each delivery is verified (Standard Webhooks signature), printed, and forwarded with its
//! original signature headers to the developer's own handler. The endpoint is removed on exit.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::remote::{HubClient, Remote, is_problem};

#[derive(Debug, clap::Args)]
pub struct ListenArgs {
    #[command(flatten)]
    remote: Remote,
    /// Where each event is POSTed on, with its original `webhook-*` headers.
    #[arg(long)]
    forward_to: Option<String>,
    /// Which events: exact types or families, comma-separated (`payment.*,refund.succeeded`).
    #[arg(long, value_delimiter = ',', default_value = "*")]
    events: Vec<String>,
    /// The loopback port to receive the hub's deliveries on (any free one by default).
    #[arg(long, default_value_t = 0)]
    port: u16,
}

#[derive(Deserialize)]
struct Endpoint {
    id: String,
    secret: String,
}

struct Relay {
    secret: String,
    forward_to: Option<String>,
    http: reqwest::Client,
}

pub async fn run(args: ListenArgs) -> anyhow::Result<()> {
    let hub = HubClient::new(&args.remote)?;
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], args.port)))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{}; choose another --port", args.port))?;
    let receiver_url = format!("http://{}/", listener.local_addr()?);
    let endpoint = register(&hub, &receiver_url, &args.events).await?;
    println!("Ready: the hub at {} sends {} to {receiver_url}", hub.base(), args.events.join(", "));
    println!("endpoint {}, signing secret {}", endpoint.id, endpoint.secret);
    match &args.forward_to {
        Some(target) => println!("forwarding to {target}; Ctrl-C to stop"),
        None => println!("printing only (no --forward-to); Ctrl-C to stop"),
    }
    let relay = Arc::new(Relay {
        secret: endpoint.secret.clone(),
        forward_to: args.forward_to.clone(),
        http: reqwest::Client::builder().build()?,
    });
    let app = axum::Router::new().route("/", post(receive)).with_state(relay);
    let served = axum::serve(listener, app).with_graceful_shutdown(async {
        let _ = super::serve::stop_requested().await;
    });
    let outcome = served.await.context("the receiver stopped");
    // The endpoint goes whatever happened: left behind, the hub would retry into a closed port
    // for days.
    match hub.delete(&format!("/v1/webhook_endpoints/{}", endpoint.id)).await {
        Ok(()) => println!("removed endpoint {}", endpoint.id),
        Err(e) => eprintln!("could not remove endpoint {} ({e:#}); delete it with the API", endpoint.id),
    }
    outcome
}

async fn register(hub: &HubClient, url: &str, events: &[String]) -> anyhow::Result<Endpoint> {
    let body = json!({ "url": url, "event_types": events, "description": "payhub listen" });
    hub.post("/v1/webhook_endpoints", &body).await.map_err(|e| {
        if is_problem(&e, "invalid_request") && format!("{e:#}").contains("loopback") {
            anyhow!(
                "{e:#}\nThe hub does not deliver to this machine's loopback address. `payhub serve --sandbox` allows it \
                 for test-mode keys; otherwise add 127.0.0.0/8 to [webhooks] allow_private_networks in the hub's \
                 configuration. listen must run on the hub's own machine."
            )
        } else {
            e
        }
    })
}

async fn receive(State(relay): State<Arc<Relay>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let (id, timestamp, signatures) = (header("webhook-id"), header("webhook-timestamp"), header("webhook-signature"));
    if !crate::services::endpoints::signature_header_matches(&relay.secret, id, timestamp, &body, signatures) {
        println!("✗ refused a delivery with a bad signature ({id})");
        return StatusCode::UNAUTHORIZED;
    }
    let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (kind, event_id) = (event["type"].as_str().unwrap_or("?"), event["id"].as_str().unwrap_or(id));
    println!(
        "{}  --> {kind} [{event_id}] {}",
        event["created_at"].as_str().unwrap_or(""),
        event["resource_id"].as_str().unwrap_or("")
    );
    let Some(target) = &relay.forward_to else { return StatusCode::OK };
    let mut forward = relay.http.post(target).header("content-type", "application/json").body(body);
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        forward = forward.header(name, header(name));
    }
    match forward.send().await {
        Ok(answer) => {
            println!(
                "{}  <-- [{}] POST {target} [{event_id}]",
                event["created_at"].as_str().unwrap_or(""),
                answer.status().as_u16()
            );
            // The hub retries what the handler refused, as it would for a deployed endpoint.
            answer.status()
        }
        Err(e) => {
            println!("✗ could not forward {event_id} to {target}: {e}");
            StatusCode::BAD_GATEWAY
        }
    }
}
