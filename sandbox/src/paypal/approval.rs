//! The buyer's side of checkout: approving or cancelling at PayPal, and what happens to orders no
//! buyer ever approves. Used by the buyer page and the control endpoints alike.

use serde::Serialize;

use super::errors::ApiError;
use super::events::NewEvent;
use super::state::{OrderStatus, wrong_state};
use super::{Effect, PaypalSimulator};

/// Where the buyer's browser goes next, as PayPal redirects it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BuyerRedirect {
    pub order_id: String,
    /// The merchant's `return_url` (or `cancel_url`) with PayPal's query parameters; `None` when
    /// the order named none (a JS SDK popup flow would simply close).
    pub redirect_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payer_id: Option<String>,
}

impl PaypalSimulator {
    /// The buyer approves: the order becomes `APPROVED` with the sandbox buyer as payer and
    /// `CHECKOUT.ORDER.APPROVED` is raised. Approving twice changes nothing the second time.
    pub fn approve_order(&self, order_id: &str) -> Result<BuyerRedirect, ApiError> {
        let payer_id = self.parties().payer_id.clone();
        self.transact(|state| {
            let now = self.now();
            let order = state.order_mut(None, order_id)?;
            let newly_approved = match order.status {
                OrderStatus::Created | OrderStatus::PayerActionRequired => {
                    order.status = OrderStatus::Approved;
                    order.approved = true;
                    order.update_time = Some(now);
                    true
                }
                OrderStatus::Approved => false,
                OrderStatus::Completed => {
                    return Err(wrong_state("ORDER_ALREADY_CAPTURED", "The order was approved and captured already."));
                }
                OrderStatus::Voided => {
                    return Err(wrong_state(
                        "ORDER_EXPIRED",
                        "The buyer's approval window has passed and the order is voided; create a new order.",
                    ));
                }
            };
            let redirect_url =
                order.return_url.as_deref().map(|url| with_query(url, &[("token", order_id), ("PayerID", &payer_id)]));
            let mut effects = Vec::new();
            if newly_approved {
                let order = state.order(None, order_id)?;
                effects.push(Effect::Emit(NewEvent {
                    client_id: order.client_id.clone(),
                    event_type: "CHECKOUT.ORDER.APPROVED",
                    resource_type: "checkout-order",
                    summary: "An order has been approved by buyer".to_owned(),
                    resource: self.order_json(state, order),
                }));
            }
            let redirect =
                BuyerRedirect { order_id: order_id.to_owned(), redirect_url, payer_id: Some(payer_id.clone()) };
            Ok((redirect, effects))
        })
    }

    /// The buyer cancels at PayPal: they are sent to `cancel_url`; the order itself stays as it
    /// was (and is voided when its approval window passes), as at PayPal.
    pub fn cancel_order(&self, order_id: &str) -> Result<BuyerRedirect, ApiError> {
        let state = self.state();
        let order = state.order(None, order_id)?;
        if order.status == OrderStatus::Completed {
            return Err(wrong_state(
                "ORDER_ALREADY_CAPTURED",
                "The order was captured already; there is nothing to cancel.",
            ));
        }
        let redirect_url = order.cancel_url.as_deref().map(|url| with_query(url, &[("token", order_id)]));
        Ok(BuyerRedirect { order_id: order_id.to_owned(), redirect_url, payer_id: None })
    }

    /// Scheduled [`super::ORDER_APPROVAL_WINDOW`] after creation.
    pub(crate) fn void_if_unapproved(&self, order_id: &str) {
        let now = self.now();
        let mut state = self.state();
        if let Some(order) = state.orders.get_mut(order_id)
            && matches!(order.status, OrderStatus::Created | OrderStatus::PayerActionRequired)
        {
            order.status = OrderStatus::Voided;
            order.update_time = Some(now);
        }
    }
}

/// Appends PayPal's parameters to a merchant URL, keeping any query it already has.
pub(crate) fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            parsed.query_pairs_mut().extend_pairs(pairs);
            parsed.to_string()
        }
        // Only URLs that parsed are stored, so this is unreachable in practice.
        Err(_) => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paypal_parameters_join_an_existing_query() {
        assert_eq!(
            with_query(
                "https://shop.example/return?cart=9",
                &[("token", "5O190127TN364715T"), ("PayerID", "QYR5Z8XDVJNXQ")]
            ),
            "https://shop.example/return?cart=9&token=5O190127TN364715T&PayerID=QYR5Z8XDVJNXQ"
        );
        assert_eq!(with_query("https://shop.example/cancel", &[("token", "A")]), "https://shop.example/cancel?token=A");
    }
}
