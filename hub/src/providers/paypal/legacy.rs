//! PayPal's legacy integration: REST v1 payments (`provider_options.paypal.api = "v1"`) and
//! Instant Payment Notification. A v1 payment is approved by the buyer and then executed with
//! the payer id PayPal reports when asked (never the one on the return URL); its sale is what
//! refunds go to. IPN messages are verified by posting them back to PayPal before they change
//! anything (see [`confirm_ipn`]).

use payhub_core::ProviderName;
use payhub_core::dispute::{DisputeFacts, DisputeMessage, DisputeParty, DisputeReason, DisputeStage, DisputeStatus};
use payhub_core::options::PaypalApi;
use payhub_core::payment::{ExternalPayment, Failure, Payment, PaymentFacts, PaymentStatus};
use payhub_core::refund::{RefundFacts, RefundStatus};
use payhub_core::{Currency, Money};
use payhub_paypal::{
    CreateV1PaymentRequest, IpnError, IpnMessage, IpnPaymentStatus, IpnVerdict, ItemList, PaypalClient, PaypalError,
    PdtOutcome, RedirectUrls, Sale, SaleAmount, SaleState, V1Item, V1Payment, V1PaymentState, V1TransactionRequest,
};

use super::mapping::{pending_reason, to_paypal_amount};
use super::{provider_error, rejected_amount};
use crate::providers::{
    BuyerAction, BuyerUrls, Checkout, Confirmation, Interpretation, PaymentSnapshot, ProviderError,
};

/// The inbox event type of every IPN, followed by its `payment_status`.
pub const IPN_EVENT_PREFIX: &str = "IPN ";

/// Who the merchant is at PayPal and where IPN postbacks and PDT queries go.
#[derive(Debug, Clone)]
pub struct LegacySettings {
    pub ipn_url: String,
    pub pdt_url: String,
    pub pdt_identity_token: Option<String>,
    /// `receiver_email` values that are this merchant (primary and secondary emails).
    pub merchant_emails: Vec<String>,
    /// `receiver_id`: the merchant's PayPal account id.
    pub merchant_id: Option<String>,
}

impl LegacySettings {
    /// PayPal's own postback and PDT hosts for the mode, with no merchant configured: every IPN
    /// is then flagged until `merchant_emails` or `merchant_id` says who the merchant is.
    pub fn for_live(live: bool) -> Self {
        let (ipn_url, pdt_url) = if live {
            (payhub_paypal::ipn::LIVE_IPN_URL, payhub_paypal::ipn::LIVE_PDT_URL)
        } else {
            (payhub_paypal::ipn::SANDBOX_IPN_URL, payhub_paypal::ipn::SANDBOX_PDT_URL)
        };
        Self {
            ipn_url: ipn_url.to_owned(),
            pdt_url: pdt_url.to_owned(),
            pdt_identity_token: None,
            merchant_emails: Vec::new(),
            merchant_id: None,
        }
    }

    /// Whether the IPN's receiver is this merchant. PayPal compares emails without case.
    fn is_merchant(&self, message: &IpnMessage) -> bool {
        let by_id = matches!((&self.merchant_id, message.receiver_id()), (Some(mine), Some(theirs)) if mine == theirs);
        let by_email = message
            .receiver_email()
            .is_some_and(|email| self.merchant_emails.iter().any(|mine| mine.eq_ignore_ascii_case(email.trim())));
        by_id || by_email
    }
}

/// Whether the payment was made through REST v1: chosen by the merchant, or recognisable by its
/// PayPal id (`PAY-…`; v2 order ids never start so).
pub fn uses_v1(payment: &Payment) -> bool {
    let chosen = payment.provider_options.paypal.as_ref().and_then(|options| options.api) == Some(PaypalApi::V1);
    chosen || payment.provider_refs().payment_id.as_deref().is_some_and(|id| id.starts_with("PAY-"))
}

pub async fn create_payment(
    client: &PaypalClient,
    payment: &Payment,
    urls: &BuyerUrls,
) -> Result<Checkout, ProviderError> {
    let amount = to_paypal_amount(&payment.money()).map_err(rejected_amount)?;
    // One cart line, so the buyer's page and the IPN's `item_name1` say what is paid for.
    let item = V1Item {
        name: payment.description.clone().unwrap_or_else(|| format!("Payment {}", payment.id)),
        quantity: "1".into(),
        price: amount.value.clone(),
        currency: amount.currency_code.clone(),
        sku: None,
    };
    let transaction = V1TransactionRequest {
        description: payment.description.clone(),
        // Echoed on the sale and as the IPN's `custom`: it finds this payment from either.
        custom: Some(payment.id.to_string()),
        item_list: Some(ItemList { items: vec![item] }),
        ..V1TransactionRequest::new(SaleAmount::new(amount.currency_code, amount.value))
    };
    let urls = RedirectUrls { return_url: urls.return_url.clone(), cancel_url: urls.cancel_url.clone() };
    let request = CreateV1PaymentRequest::sale(transaction, urls);
    let created = client.create_v1_payment(payment.id.as_str(), &request).await.map_err(provider_error)?;
    let redirect_url = created.approval_url().map(str::to_owned).ok_or_else(|| ProviderError::Protocol {
        provider: ProviderName::Paypal,
        detail: format!("v1 payment {} came without an approval_url", created.id),
    })?;
    Ok(Checkout {
        provider_payment_id: created.id,
        capture_id: None,
        buyer_action: BuyerAction::Redirect(redirect_url),
    })
}

fn payment_id(payment: &Payment) -> Result<&str, ProviderError> {
    payment.provider_refs().payment_id.as_deref().ok_or_else(|| ProviderError::Protocol {
        provider: ProviderName::Paypal,
        detail: format!("payment {} has no PayPal v1 payment", payment.id),
    })
}

pub async fn fetch_payment(client: &PaypalClient, payment: &Payment) -> Result<PaymentSnapshot, ProviderError> {
    let remote = client.get_v1_payment(payment_id(payment)?).await.map_err(provider_error)?;
    Ok(v1_snapshot(&remote))
}

/// Executes an approved payment with the payer PayPal names. Executing again is refused by
/// PayPal (`PAYMENT_ALREADY_DONE`); the payment is then read instead.
pub async fn capture_payment(client: &PaypalClient, payment: &Payment) -> Result<PaymentSnapshot, ProviderError> {
    let id = payment_id(payment)?;
    let remote = client.get_v1_payment(id).await.map_err(provider_error)?;
    let Some(payer_id) = remote.payer_id().filter(|_| remote.state == V1PaymentState::Created) else {
        return Ok(v1_snapshot(&remote));
    };
    let request_id = format!("execute-{}", payment.id);
    match client.execute_v1_payment(&request_id, id, payer_id).await {
        Ok(executed) => Ok(v1_snapshot(&executed)),
        Err(PaypalError::Api { name, .. }) if name == "PAYMENT_ALREADY_DONE" => fetch_payment(client, payment).await,
        Err(error) => Err(provider_error(error)),
    }
}

pub fn v1_snapshot(remote: &V1Payment) -> PaymentSnapshot {
    if let Some(sale) = remote.sales().next() {
        return PaymentSnapshot { facts: sale_facts(sale), ready_to_capture: false };
    }
    let facts = |status, failure| PaymentFacts {
        status,
        capture_id: None,
        captured: None,
        failure,
        authorization: None,
        pending_reason: None,
    };
    match &remote.state {
        V1PaymentState::Failed => PaymentSnapshot {
            facts: facts(
                PaymentStatus::Failed,
                Some(Failure {
                    code: remote.failure_reason.clone().unwrap_or_else(|| "failed".into()),
                    message: "PayPal failed the payment".into(),
                }),
            ),
            ready_to_capture: false,
        },
        _ => PaymentSnapshot {
            facts: facts(PaymentStatus::RequiresAction, None),
            ready_to_capture: remote.state == V1PaymentState::Created && remote.payer_id().is_some(),
        },
    }
}

pub fn sale_facts(sale: &Sale) -> PaymentFacts {
    let captured = money(&sale.amount.total, &sale.amount.currency);
    let (status, failure) = match &sale.state {
        SaleState::Completed | SaleState::PartiallyRefunded | SaleState::Refunded => (PaymentStatus::Succeeded, None),
        SaleState::Denied => (
            PaymentStatus::Failed,
            Some(Failure { code: "denied".into(), message: format!("PayPal denied sale {}", sale.id) }),
        ),
        SaleState::Pending | SaleState::Other(_) => (PaymentStatus::Processing, None),
    };
    let waiting =
        (status == PaymentStatus::Processing).then(|| sale.reason_code.as_deref().map(pending_reason)).flatten();
    PaymentFacts {
        status,
        capture_id: Some(sale.id.clone()),
        captured,
        failure,
        authorization: None,
        pending_reason: waiting,
    }
}

/// A paid sale, described for adoption when payhub did not make it.
pub fn external_sale(
    facts: &PaymentFacts,
    provider_payment_id: Option<String>,
    description: Option<String>,
) -> Option<ExternalPayment> {
    if facts.status != PaymentStatus::Succeeded {
        return None;
    }
    Some(ExternalPayment {
        provider_payment_id,
        capture_id: facts.capture_id.clone()?,
        amount: facts.captured?,
        description,
    })
}

/// A PayPal amount as money; reversals and refunds state it negative in IPN.
pub(super) fn money(value: &str, currency: &str) -> Option<Money> {
    let currency = Currency::parse(currency).ok()?;
    Money::from_decimal_str(value.trim().trim_start_matches('-'), currency).ok()
}

/// Posts the stored bytes back to PayPal before anything is applied.
pub async fn confirm_ipn(http: &reqwest::Client, settings: &LegacySettings, raw: &[u8]) -> Confirmation {
    match payhub_paypal::verify_ipn(http, &settings.ipn_url, raw).await {
        Ok(IpnVerdict::Verified) => Confirmation::Confirmed,
        Ok(IpnVerdict::Invalid) => {
            Confirmation::Refused("PayPal's postback answered INVALID: forged or altered".into())
        }
        Err(error) => Confirmation::Unavailable(error.to_string()),
    }
}

/// Asks PDT about the `tx` of a buyer's return, with the account's identity token. Only a
/// `Completed` transaction of this very payment (its `custom`) for its full amount is taken as a
/// hint; anything else leaves the payment to be read from PayPal, as returns without PDT are.
pub async fn confirm_return(
    http: &reqwest::Client,
    settings: &LegacySettings,
    payment: &Payment,
    tx: &str,
) -> Option<PaymentSnapshot> {
    let token = settings.pdt_identity_token.as_deref()?;
    let fields = match payhub_paypal::payment_data_transfer(http, &settings.pdt_url, tx, token).await {
        Ok(PdtOutcome::Success(fields)) => fields,
        Ok(PdtOutcome::Fail(reason)) => {
            tracing::warn!(payment = %payment.id, %tx, %reason, "PDT refused the return's transaction");
            return None;
        }
        Err(error) => {
            tracing::warn!(payment = %payment.id, %tx, %error, "PDT could not be asked; reading the payment instead");
            return None;
        }
    };
    let field = |name: &str| fields.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    let paid = money(field("mc_gross")?, field("mc_currency")?)?;
    let ours = field("custom") == Some(payment.id.as_str()) && field("txn_id") == Some(tx);
    if !ours || field("payment_status") != Some("Completed") || paid != payment.money() {
        return None;
    }
    let facts = PaymentFacts {
        status: PaymentStatus::Succeeded,
        capture_id: Some(tx.to_owned()),
        captured: Some(paid),
        failure: None,
        authorization: None,
        pending_reason: None,
    };
    Some(PaymentSnapshot { facts, ready_to_capture: false })
}

/// What a verified IPN means. Facts about another receiver are flagged, not applied: that is how
/// a buyer paying someone else's account would otherwise buy from this shop.
pub fn interpret_ipn(settings: &LegacySettings, raw: &[u8]) -> Result<Interpretation, IpnError> {
    let message = IpnMessage::parse(raw)?;
    if !settings.is_merchant(&message) {
        return Ok(Interpretation::Unhandled {
            reason: format!(
                "flagged: IPN {} is for receiver {} / {}, not this merchant; not applied",
                message.txn_id().unwrap_or("?"),
                message.receiver_email().unwrap_or("?"),
                message.receiver_id().unwrap_or("?"),
            ),
        });
    }
    let Some(txn_id) = message.txn_id().map(str::to_owned) else {
        return Ok(Interpretation::Unhandled { reason: "an IPN without txn_id (not a payment)".into() });
    };
    // A reversal of any sale, a subscription's charge included, is a claim on that sale.
    let lacking = |field: &str| IpnError::Malformed {
        charset: message.charset().to_owned(),
        reason: format!("{} IPN {txn_id} without a readable {field}", message.get("payment_status").unwrap_or("")),
    };
    match message.payment_status() {
        Some(IpnPaymentStatus::Reversed) => {
            let sale_id = message.parent_txn_id().ok_or_else(|| lacking("parent_txn_id"))?;
            let amount =
                message.mc_gross().zip(message.mc_currency()).and_then(|(gross, currency)| money(gross, currency));
            let amount = amount.ok_or_else(|| lacking("mc_gross and mc_currency"))?;
            return Ok(reversal(sale_id, message.get("reason_code").unwrap_or("other"), amount));
        }
        Some(IpnPaymentStatus::CanceledReversal) => {
            let sale_id = message.parent_txn_id().ok_or_else(|| lacking("parent_txn_id"))?;
            return Ok(Interpretation::ReversalCanceled { transaction_id: sale_id.to_owned() });
        }
        _ => {}
    }
    // A subscription's charge: the subscription is read whole from PayPal, as its sale webhook
    // makes it be; it is never a payment made outside payhub.
    if let Some(subscription) = message.get("recurring_payment_id")
        && message.payment_status() != Some(IpnPaymentStatus::Refunded)
    {
        return Ok(Interpretation::Subscription { provider_subscription_id: subscription.to_owned() });
    }
    let amount = match (message.mc_gross(), message.mc_currency()) {
        (Some(gross), Some(currency)) => money(gross, currency),
        _ => None,
    };
    let status = message.payment_status();
    let payment_facts = |status, failure| PaymentFacts {
        status,
        capture_id: Some(txn_id.clone()),
        captured: amount,
        failure,
        authorization: None,
        pending_reason: (status == PaymentStatus::Processing)
            .then(|| pending_reason(message.get("pending_reason").unwrap_or("other"))),
    };
    let description = message.get("item_name1").or(message.get("item_name")).or(message.get("transaction_subject"));
    let payment = |facts: PaymentFacts| Interpretation::Payment {
        payment_id: message.get("custom").map(str::to_owned),
        provider_refs: vec![txn_id.clone()],
        external: external_sale(&facts, None, description.map(str::to_owned)),
        snapshot: Some(PaymentSnapshot { facts, ready_to_capture: false }),
    };
    Ok(match status {
        Some(IpnPaymentStatus::Completed) => payment(payment_facts(PaymentStatus::Succeeded, None)),
        Some(IpnPaymentStatus::Pending) => payment(payment_facts(PaymentStatus::Processing, None)),
        Some(IpnPaymentStatus::Denied | IpnPaymentStatus::Failed) => {
            let code = status.as_ref().map_or("failed", |status| status.as_str()).to_ascii_lowercase();
            let reason = message.get("reason_code").or(message.get("pending_reason")).unwrap_or("none");
            let failure = Failure { code, message: format!("PayPal IPN {txn_id}: {reason}") };
            payment(payment_facts(PaymentStatus::Failed, Some(failure)))
        }
        Some(IpnPaymentStatus::Refunded) => Interpretation::Refund {
            refund_id: None,
            provider_refund_id: txn_id.clone(),
            provider_payment_refs: message.parent_txn_id().map(str::to_owned).into_iter().collect(),
            facts: RefundFacts {
                status: RefundStatus::Succeeded,
                provider_refund_id: Some(txn_id.clone()),
                failure: None,
            },
            amount,
        },
        other => Interpretation::Unhandled {
            reason: format!("payhub does not act on IPN payment_status {:?}", other.as_ref().map(|s| s.as_str())),
        },
    })
}

/// A reversal: PayPal took the money of `sale_id` back on a buyer's claim (a chargeback, an
/// unauthorised payment, a complaint) and holds it while the claim is decided, by PayPal rather
/// than by an answer of the merchant's through the API. It is the sale's dispute, keyed by the
/// sale (PayPal keeps one reversal open per sale, and its `Canceled_Reversal` names only the
/// sale). The IPN (`reason_code=buyer-complaint`) and the webhook (`BUYER-COMPLAINT`) of one
/// reversal state the very same facts, so whichever comes second changes nothing.
pub fn reversal(sale_id: &str, reason_code: &str, amount: Money) -> Interpretation {
    let reason_code = reason_code.trim().to_ascii_lowercase().replace('-', "_");
    let reason = match reason_code.as_str() {
        "unauthorized_claim" | "unauthorized_spoof" => DisputeReason::Unauthorized,
        _ => DisputeReason::Other,
    };
    let note = format!(
        "PayPal reversed sale {sale_id} (reason_code {reason_code}) and holds the money until the claim is decided"
    );
    Interpretation::Reversal {
        facts: DisputeFacts {
            provider_dispute_id: sale_id.to_owned(),
            transaction_id: Some(sale_id.to_owned()),
            reason,
            stage: DisputeStage::Chargeback,
            status: DisputeStatus::UnderReview,
            amount,
            response_due_at: None,
            messages: vec![DisputeMessage { from: DisputeParty::Arbiter, text: note, at: None }],
            offers: Vec::new(),
            evidence: Vec::new(),
            amount_refunded: None,
            provider_outcome: None,
            allowed_actions: Vec::new(),
            provider_updated_at: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merchant() -> LegacySettings {
        LegacySettings {
            merchant_emails: vec!["Shop@Example.com".into()],
            merchant_id: Some("937CP9PSMDS2A".into()),
            ..LegacySettings::for_live(false)
        }
    }

    const COMPLETED: &[u8] = b"mc_gross=20.00&payment_status=Completed&charset=gb2312&txn_id=5CS19517SJ894934R\
        &custom=pay_1&mc_currency=USD&item_name1=%D1%D0%C4%A5&receiver_email=shop%40example.com&test_ipn=1";

    #[test]
    fn a_completed_ipn_for_this_merchant_states_a_paid_sale_with_its_chinese_item_name() {
        let Interpretation::Payment { payment_id, provider_refs, snapshot, external } =
            interpret_ipn(&merchant(), COMPLETED).unwrap()
        else {
            panic!("a payment fact");
        };
        assert_eq!(payment_id.as_deref(), Some("pay_1"));
        assert_eq!(provider_refs, ["5CS19517SJ894934R"]);
        let facts = snapshot.unwrap().facts;
        assert_eq!(facts.status, PaymentStatus::Succeeded);
        assert_eq!(facts.pending_reason, None);
        assert_eq!(facts.captured, Some(Money::new(2000, Currency::parse("USD").unwrap())));
        assert_eq!(external.unwrap().description.as_deref(), Some("研磨"));
    }

    #[test]
    fn a_pending_ipn_states_its_reason_in_payhub_words() {
        let pending = String::from_utf8(COMPLETED.to_vec())
            .unwrap()
            .replace("payment_status=Completed", "payment_status=Pending&pending_reason=multi_currency");
        let Interpretation::Payment { snapshot, external, .. } =
            interpret_ipn(&merchant(), pending.as_bytes()).unwrap()
        else {
            panic!("a payment fact");
        };
        let facts = snapshot.unwrap().facts;
        assert_eq!(facts.status, PaymentStatus::Processing);
        assert_eq!(facts.pending_reason.as_deref(), Some("multi_currency"));
        assert!(external.is_none(), "a pending sale made elsewhere is not adopted yet");
    }

    #[test]
    fn an_ipn_for_another_receiver_is_flagged_not_applied() {
        let other = [COMPLETED, b"&receiver_id=OTHER"].concat();
        let elsewhere = String::from_utf8(other).unwrap().replace("shop%40example.com", "thief%40example.com");
        let Interpretation::Unhandled { reason } = interpret_ipn(&merchant(), elsewhere.as_bytes()).unwrap() else {
            panic!("not applied");
        };
        assert!(reason.starts_with("flagged") && reason.contains("thief@example.com"), "{reason}");
        let by_id = b"payment_status=Completed&txn_id=1&receiver_email=alias%40example.com&receiver_id=937CP9PSMDS2A";
        assert!(matches!(interpret_ipn(&merchant(), by_id).unwrap(), Interpretation::Payment { .. }));
    }

    #[test]
    fn a_reversal_is_the_sales_dispute_with_its_reason_code_and_a_canceled_one_names_the_sale() {
        let reversed = b"mc_gross=-19.02&mc_currency=USD&payment_status=Reversed&txn_id=2Y80904055783821A\
            &parent_txn_id=74V52932AB811673C&reason_code=unauthorized_claim&receiver_email=shop%40example.com\
            &recurring_payment_id=I-BW452GLLEP1G";
        let Interpretation::Reversal { facts } = interpret_ipn(&merchant(), reversed).unwrap() else {
            panic!("a reversal, even of a subscription's charge");
        };
        assert_eq!(facts.provider_dispute_id, "74V52932AB811673C");
        assert_eq!(facts.transaction_id.as_deref(), Some("74V52932AB811673C"));
        assert_eq!(facts.reason, DisputeReason::Unauthorized);
        assert_eq!(facts.status, DisputeStatus::UnderReview);
        assert_eq!(facts.amount, Money::new(1902, Currency::parse("USD").unwrap()));
        assert!(facts.messages[0].text.contains("reason_code unauthorized_claim"), "{:?}", facts.messages);
        let canceled = b"mc_gross=19.02&mc_currency=USD&payment_status=Canceled_Reversal&txn_id=9B\
            &parent_txn_id=74V52932AB811673C&reason_code=other&receiver_email=shop%40example.com";
        assert_eq!(
            interpret_ipn(&merchant(), canceled).unwrap(),
            Interpretation::ReversalCanceled { transaction_id: "74V52932AB811673C".into() }
        );
    }

    #[test]
    fn the_ipn_and_the_webhook_of_one_reversal_state_the_same_dispute() {
        let usd = Money::new(500, Currency::parse("USD").unwrap());
        assert_eq!(reversal("S1", "buyer-complaint", usd), reversal("S1", " BUYER-COMPLAINT", usd));
    }

    #[test]
    fn a_subscription_charge_is_read_as_its_subscription_never_adopted() {
        let renewal = b"mc_gross=4.99&payment_status=Completed&txn_id=9X&mc_currency=USD&txn_type=recurring_payment\
            &recurring_payment_id=I-BW452GLLEP1G&receiver_email=shop%40example.com";
        let interpretation = interpret_ipn(&merchant(), renewal).unwrap();
        assert_eq!(interpretation, Interpretation::Subscription { provider_subscription_id: "I-BW452GLLEP1G".into() });
    }

    #[test]
    fn a_refund_ipn_names_the_refunded_sale() {
        let refunded = b"mc_gross=-5.00&mc_currency=USD&payment_status=Refunded&txn_id=03C86087BS569332H\
            &parent_txn_id=78V79646KB938951Y&receiver_email=shop%40example.com";
        let Interpretation::Refund { provider_refund_id, provider_payment_refs, amount, .. } =
            interpret_ipn(&merchant(), refunded).unwrap()
        else {
            panic!("a refund fact");
        };
        assert_eq!(provider_refund_id, "03C86087BS569332H");
        assert_eq!(provider_payment_refs, ["78V79646KB938951Y"]);
        assert_eq!(amount, Some(Money::new(500, Currency::parse("USD").unwrap())));
    }
}
