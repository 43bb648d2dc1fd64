"""PayPal's legacy Python SDK (paypalrestsdk, REST v1 payments) against payhub's PayPal
simulator, with only the SDK's endpoint changed: create a v1 payment, let the buyer approve it
(the simulator's control endpoint plays the buyer), execute it, refund part of its sale, and
read the refund back.

Run a simulator first (`payhub sandbox`, which prints `paypal simulator listening on URL`) and
point PAYHUB_SANDBOX_PAYPAL_URL at it:

    pip install paypalrestsdk pytest requests
    PAYHUB_SANDBOX_PAYPAL_URL=http://127.0.0.1:4010 pytest tests/sdk/test_paypalrestsdk_v1.py
"""

import os
from urllib.parse import parse_qs, urlparse

import pytest
import requests

paypalrestsdk = pytest.importorskip("paypalrestsdk")

# The simulator's default credentials (payhub_sandbox::SANDBOX_PAYPAL_CLIENT_ID / _SECRET).
CLIENT_ID = "payhub-sandbox-client"
CLIENT_SECRET = "payhub-sandbox-secret"
SIMULATOR_URL = os.environ.get("PAYHUB_SANDBOX_PAYPAL_URL", "").rstrip("/")

pytestmark = pytest.mark.skipif(not SIMULATOR_URL, reason="PAYHUB_SANDBOX_PAYPAL_URL is not set")


@pytest.fixture
def api():
    return paypalrestsdk.Api(
        mode="sandbox", endpoint=SIMULATOR_URL, client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )


def new_payment(api, total="20.00"):
    return paypalrestsdk.Payment(
        {
            "intent": "sale",
            "payer": {"payment_method": "paypal"},
            "redirect_urls": {
                "return_url": "https://shop.example/paypal/return",
                "cancel_url": "https://shop.example/paypal/cancel",
            },
            "transactions": [
                {
                    "amount": {
                        "total": total,
                        "currency": "USD",
                        "details": {"subtotal": "17.50", "tax": "1.30", "shipping": "1.20"},
                    },
                    "description": "Payment description",
                    "item_list": {
                        "items": [
                            {"name": "Ground Coffee 40 oz", "price": "7.50", "currency": "USD", "quantity": "1"},
                            {"name": "Granola bars", "price": "2.00", "currency": "USD", "quantity": "5"},
                        ]
                    },
                }
            ],
        },
        api=api,
    )


def approve_as_buyer(payment):
    """The buyer approves at PayPal; returns the PayerID PayPal puts on the return URL."""
    approval_url = next(link.href for link in payment.links if link.rel == "approval_url")
    assert approval_url.startswith(SIMULATOR_URL + "/cgi-bin/webscr?cmd=_express-checkout&token=EC-")
    answer = requests.post(f"{SIMULATOR_URL}/sandbox/paypal/payments/{payment.id}/approve", timeout=10)
    answer.raise_for_status()
    query = parse_qs(urlparse(answer.json()["redirect_url"]).query)
    assert query["paymentId"] == [payment.id]
    return query["PayerID"][0]


def test_a_v1_payment_is_created_executed_and_partially_refunded(api):
    payment = new_payment(api)
    assert payment.create(), payment.error
    assert payment.state == "created"
    assert payment.id.startswith("PAY-")

    payer_id = approve_as_buyer(payment)
    assert payment.execute({"payer_id": payer_id}), payment.error
    executed = paypalrestsdk.Payment.find(payment.id, api=api)
    assert executed.state == "approved"
    sale_id = executed.transactions[0].related_resources[0].sale.id

    sale = paypalrestsdk.Sale.find(sale_id, api=api)
    assert sale.state == "completed"
    assert sale.parent_payment == payment.id
    refund = sale.refund({"amount": {"total": "5.00", "currency": "USD"}})
    assert refund.success(), refund.error
    assert refund.state == "completed"
    assert refund.amount.total == "5.00"

    found = paypalrestsdk.Refund.find(refund.id, api=api)
    assert found.sale_id == sale_id
    assert paypalrestsdk.Sale.find(sale_id, api=api).state == "partially_refunded"


def test_executing_before_the_buyer_approved_is_refused_in_the_v1_error_shape(api):
    payment = new_payment(api)
    assert payment.create(), payment.error
    assert not payment.execute({"payer_id": "NOBODY"})
    assert payment.error["name"] == "PAYMENT_NOT_APPROVED_FOR_EXECUTION"
    assert "information_link" in payment.error
