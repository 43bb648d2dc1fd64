//! `payhub trigger EVENT`: makes the hub produce a real event in test mode, by driving the
//! whole flow a buyer and PayPal would — payhub's API, then the PayPal simulator's control
//! endpoints (approve, dispute, move the clock; pay at Ping++) — so what arrives is what
//! production sends.

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use payhub_core::Mode;
use serde_json::{Value, json};

use super::remote::{HubClient, Remote, key_mode};

#[derive(Debug, clap::Args)]
pub struct TriggerArgs {
    #[command(flatten)]
    remote: Remote,
    /// The event to produce.
    event: Trigger,
    /// Whose payment: `pingpp` produces `payment.succeeded` only.
    #[arg(long, value_enum, default_value = "paypal")]
    provider: Provider,
    /// The Ping++ simulator's control endpoints (`serve --sandbox` listens there by default).
    /// Ping++ payments are paid by scanning a QR code, so no link leads to it.
    #[arg(long, default_value = "http://127.0.0.1:8082")]
    pingpp_simulator: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Provider {
    Paypal,
    Pingpp,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Trigger {
    #[value(name = "payment.succeeded")]
    PaymentSucceeded,
    #[value(name = "payment.canceled")]
    PaymentCanceled,
    #[value(name = "payment.refunded")]
    PaymentRefunded,
    #[value(name = "refund.succeeded")]
    RefundSucceeded,
    #[value(name = "dispute.created")]
    DisputeCreated,
    #[value(name = "dispute.updated")]
    DisputeUpdated,
    #[value(name = "dispute.resolved")]
    DisputeResolved,
    #[value(name = "subscription.renewed")]
    SubscriptionRenewed,
}

impl Trigger {
    fn event_type(self) -> &'static str {
        match self {
            Trigger::PaymentSucceeded => "payment.succeeded",
            Trigger::PaymentCanceled => "payment.canceled",
            Trigger::PaymentRefunded => "payment.refunded",
            Trigger::RefundSucceeded => "refund.succeeded",
            Trigger::DisputeCreated => "dispute.created",
            Trigger::DisputeUpdated => "dispute.updated",
            Trigger::DisputeResolved => "dispute.resolved",
            Trigger::SubscriptionRenewed => "subscription.renewed",
        }
    }
}

/// How long a step may take before the command gives up: the hub's workers and the
/// simulator's webhooks usually take well under a second.
const PATIENCE: Duration = Duration::from_secs(60);

pub async fn run(args: TriggerArgs) -> anyhow::Result<()> {
    if key_mode(&args.remote.api_key) != Some(Mode::Test) {
        bail!(
            "trigger works in test mode only, against payhub's sandbox: pass a test-mode key (sk_test_…). \
             A live key would move real money."
        );
    }
    if args.provider == Provider::Pingpp && !matches!(args.event, Trigger::PaymentSucceeded) {
        bail!(
            "--provider pingpp triggers payment.succeeded only; the other events come from the PayPal flow \
             (leave out --provider)"
        );
    }
    let flow = Flow {
        hub: HubClient::new(&args.remote)?,
        http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?,
    };
    let resource = match args.event {
        Trigger::PaymentSucceeded if args.provider == Provider::Pingpp => {
            flow.paid_pingpp_payment(args.pingpp_simulator.trim_end_matches('/')).await?
        }
        Trigger::PaymentSucceeded => flow.paid_payment().await?.0,
        Trigger::PaymentCanceled => {
            let (payment, _) = flow.open_payment().await?;
            let id = text(&payment["id"]);
            flow.hub.post::<Value>(&format!("/v1/payments/{id}/cancel"), &json!({})).await?;
            id
        }
        Trigger::PaymentRefunded => flow.refunded_payment().await?.0,
        Trigger::RefundSucceeded => flow.refunded_payment().await?.1,
        Trigger::DisputeCreated => flow.disputed_payment().await?,
        Trigger::DisputeUpdated => flow.answered_dispute().await?,
        Trigger::DisputeResolved => flow.accepted_dispute().await?,
        Trigger::SubscriptionRenewed => flow.renewed_subscription().await?,
    };
    let event = flow.event(args.event.event_type(), &resource).await?;
    println!("{} {} about {resource}", text(&event["type"]), text(&event["id"]));
    Ok(())
}

struct Flow {
    hub: HubClient,
    /// For the simulator and the buyer's return, whose redirects are the buyer's, not ours.
    http: reqwest::Client,
}

impl Flow {
    /// A PayPal payment waiting for the buyer, and the simulator it waits at (where its
    /// approval page is).
    async fn open_payment(&self) -> anyhow::Result<(Value, String)> {
        let body = json!({ "provider": "paypal", "amount": 1_000, "currency": "USD",
                           "description": "payhub trigger", "merchant_reference": "trigger" });
        let payment: Value = self.hub.post("/v1/payments", &body).await?;
        let simulator = simulator_of(&payment)?;
        Ok((payment, simulator))
    }

    /// A paid PayPal payment: created, approved at the simulator, the buyer back at the hub.
    async fn paid_payment(&self) -> anyhow::Result<(String, String)> {
        let (payment, simulator) = self.open_payment().await?;
        let id = text(&payment["id"]);
        let order = text(&payment["provider_refs"]["payment_id"]);
        let approved = self.control(&simulator, &format!("/sandbox/paypal/orders/{order}/approve"), json!({})).await?;
        self.come_back(&approved).await?;
        self.until(&format!("{id} succeeds"), &format!("/v1/payments/{id}"), |p| p["status"] == "succeeded").await?;
        Ok((id, simulator))
    }

    /// A Ping++ payment by Alipay QR code, paid by the buyer at the Ping++ simulator.
    async fn paid_pingpp_payment(&self, simulator: &str) -> anyhow::Result<String> {
        let body = json!({ "provider": "pingpp", "channel": "alipay_qr", "amount": 1_000, "currency": "CNY",
                           "description": "payhub trigger", "merchant_reference": "trigger" });
        let payment: Value = self.hub.post("/v1/payments", &body).await?;
        let id = text(&payment["id"]);
        let charge = text(&payment["provider_refs"]["payment_id"]);
        self.control(simulator, &format!("/sandbox/pingpp/charges/{charge}/pay"), json!({})).await?;
        self.until(&format!("{id} succeeds"), &format!("/v1/payments/{id}"), |p| p["status"] == "succeeded").await?;
        Ok(id)
    }

    /// A paid payment refunded in full; the payment's and the refund's ids.
    async fn refunded_payment(&self) -> anyhow::Result<(String, String)> {
        let (id, _) = self.paid_payment().await?;
        let refund: Value =
            self.hub.post(&format!("/v1/payments/{id}/refunds"), &json!({ "reason": "payhub trigger" })).await?;
        let refund_id = text(&refund["id"]);
        self.until(&format!("{refund_id} succeeds"), &format!("/v1/refunds/{refund_id}"), |r| {
            r["status"] == "succeeded"
        })
        .await?;
        Ok((id, refund_id))
    }

    /// A paid payment the buyer disputes at PayPal; the hub's dispute id.
    async fn disputed_payment(&self) -> anyhow::Result<String> {
        let (id, simulator) = self.paid_payment().await?;
        let payment: Value = self.hub.get(&format!("/v1/payments/{id}")).await?;
        let capture = text(&payment["provider_refs"]["capture_id"]);
        let claim = json!({ "reason": "MERCHANDISE_OR_SERVICE_NOT_RECEIVED", "message": "payhub trigger: never arrived",
                            "amount": { "currency_code": "USD", "value": "10.00" } });
        self.control(&simulator, &format!("/sandbox/paypal/captures/{capture}/dispute"), claim).await?;
        let disputes = self
            .until("the hub learns of the dispute", &format!("/v1/disputes?payment={id}"), |list| {
                !list["data"][0].is_null()
            })
            .await?;
        Ok(text(&disputes["data"][0]["id"]))
    }

    /// A dispute the merchant answered with a message through the hub: the case waits for the
    /// buyer now.
    async fn answered_dispute(&self) -> anyhow::Result<String> {
        let id = self.disputed_payment().await?;
        let message = json!({ "text": "payhub trigger: shipped on Monday, tracking follows" });
        let answered: Value = self.hub.post(&format!("/v1/disputes/{id}/messages"), &message).await?;
        if answered["status"] != "waiting_for_buyer" {
            bail!("dispute {id} did not move to the buyer's turn: {answered}");
        }
        Ok(id)
    }

    /// A dispute the merchant accepted through the hub: refunded to the buyer and closed.
    async fn accepted_dispute(&self) -> anyhow::Result<String> {
        let id = self.disputed_payment().await?;
        let accepted: Value =
            self.hub.post(&format!("/v1/disputes/{id}/accept"), &json!({ "note": "payhub trigger" })).await?;
        if accepted["status"] != "accepted" {
            bail!("dispute {id} was not closed by accepting it: {accepted}");
        }
        Ok(id)
    }

    /// A daily subscription, approved and charged once, then the sandbox clock moved past its
    /// period's end so the simulator charges the renewal.
    async fn renewed_subscription(&self) -> anyhow::Result<String> {
        let plan: Value = self
            .hub
            .post(
                "/v1/plans",
                &json!({ "name": "payhub trigger", "currency": "USD", "entitlement": "trigger",
                                         "regular_cycle": { "interval_unit": "day", "price": 500 } }),
            )
            .await?;
        let subscription: Value =
            self.hub.post("/v1/subscriptions", &json!({ "plan_id": plan["id"], "customer_id": "cus_trigger" })).await?;
        let (id, provider_id) = (text(&subscription["id"]), text(&subscription["provider_subscription_id"]));
        let simulator = simulator_of(&subscription)?;
        let approved = self
            .control(&simulator, &format!("/sandbox/paypal/subscriptions/{provider_id}/approve"), json!({}))
            .await?;
        self.come_back(&approved).await?;
        let path = format!("/v1/subscriptions/{id}");
        let charged = self
            .until(&format!("{id}'s first charge"), &path, |s| {
                s["status"] == "active"
                    && s["payments_count"].as_u64() >= Some(1)
                    && s["current_period_end"].is_string()
            })
            .await?;
        let period_end = time(&charged["current_period_end"])?;
        let clock: Value = self.http.get(format!("{simulator}/sandbox/clock")).send().await?.json().await?;
        let by = (period_end - time(&clock["now"])?).num_seconds().max(0) + 60;
        self.control(&simulator, "/sandbox/clock/advance", json!({ "by": by })).await?;
        eprintln!("moved the sandbox clock (the hub's and the simulators') {by} seconds forward, to the renewal");
        Ok(id)
    }

    /// The event of `event_type` about `resource`, once the hub has recorded it.
    async fn event(&self, event_type: &str, resource: &str) -> anyhow::Result<Value> {
        let path = format!("/v1/events?type={event_type}&resource_id={resource}&limit=1");
        let list =
            self.until(&format!("the hub records {event_type}"), &path, |list| !list["data"][0].is_null()).await?;
        Ok(list["data"][0].clone())
    }

    /// Calls a control endpoint of the simulator at `simulator`.
    async fn control(&self, simulator: &str, path: &str, body: Value) -> anyhow::Result<Value> {
        let not_sandbox = || {
            anyhow!(
                "{simulator} is not payhub's simulator; trigger needs the hub's test mode wired to the sandbox \
                 (`payhub serve --sandbox`), and for Ping++ the simulator's address in --pingpp-simulator"
            )
        };
        let answer =
            self.http.post(format!("{simulator}{path}")).json(&body).send().await.map_err(|_| not_sandbox())?;
        if answer.status() == reqwest::StatusCode::NOT_FOUND {
            return Err(not_sandbox());
        }
        if !answer.status().is_success() {
            bail!("the simulator refused {path}: {} {}", answer.status(), answer.text().await.unwrap_or_default());
        }
        Ok(answer.json().await.unwrap_or(Value::Null))
    }

    /// The buyer's browser follows PayPal's redirect back to the hub, which then captures.
    async fn come_back(&self, approved: &Value) -> anyhow::Result<()> {
        let back = approved["redirect_url"].as_str().context("the simulator gave no redirect_url")?;
        self.http.get(back).send().await.with_context(|| format!("the buyer's return to {back} failed"))?;
        Ok(())
    }

    /// Reads `path` from the hub until `done` holds for the answer.
    async fn until(&self, what: &str, path: &str, done: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let value: Value = self.hub.get(path).await?;
            if done(&value) {
                return Ok(value);
            }
            if tokio::time::Instant::now() > deadline {
                bail!("gave up waiting for {what} after {}s; is the hub running its workers?", PATIENCE.as_secs());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The simulator a resource waits at: the origin of its approval link.
fn simulator_of(resource: &Value) -> anyhow::Result<String> {
    let link = resource["next_action"]["redirect_url"].as_str().context("the hub gave no approval link")?;
    let url = url::Url::parse(link).with_context(|| format!("the approval link {link} is not a URL"))?;
    Ok(url.origin().ascii_serialization())
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

fn time(value: &Value) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    let text = value.as_str().context("a time is missing")?;
    Ok(chrono::DateTime::parse_from_rfc3339(text).with_context(|| format!("{text} is not a time"))?.to_utc())
}
