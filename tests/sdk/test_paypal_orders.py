"""PayPal's official Python SDK (paypal-server-sdk 2.x) against payhub's PayPal simulator.

The SDK is used exactly as a merchant would use it against PayPal; the only change is the base
URL, so this proves the simulator speaks PayPal's API (paths, OAuth2, JSON shapes, statuses).

Run a simulator first (`payhub sandbox`, which prints `paypal simulator listening on URL`) and
point PAYHUB_SANDBOX_PAYPAL_URL at it:

    pip install 'paypal-server-sdk>=2,<3' pytest requests
    PAYHUB_SANDBOX_PAYPAL_URL=http://127.0.0.1:4010 pytest tests/sdk
"""

import os
import uuid

import pytest
import requests
from paypalserversdk.configuration import Configuration, Environment, Server
from paypalserversdk.http.auth.o_auth_2 import ClientCredentialsAuthCredentials
from paypalserversdk.models.amount_with_breakdown import AmountWithBreakdown
from paypalserversdk.models.capture_request import CaptureRequest
from paypalserversdk.models.checkout_payment_intent import CheckoutPaymentIntent
from paypalserversdk.models.money import Money
from paypalserversdk.models.order_request import OrderRequest
from paypalserversdk.models.patch import Patch
from paypalserversdk.models.patch_op import PatchOp
from paypalserversdk.models.purchase_unit_request import PurchaseUnitRequest
from paypalserversdk.models.refund_request import RefundRequest
from paypalserversdk.paypal_serversdk_client import PaypalServersdkClient

# The simulator's default credentials (payhub_sandbox::SANDBOX_PAYPAL_CLIENT_ID / _SECRET).
CLIENT_ID = "payhub-sandbox-client"
CLIENT_SECRET = "payhub-sandbox-secret"
SIMULATOR_URL = os.environ.get("PAYHUB_SANDBOX_PAYPAL_URL", "").rstrip("/")

pytestmark = pytest.mark.skipif(not SIMULATOR_URL, reason="PAYHUB_SANDBOX_PAYPAL_URL is not set")


class SimulatorConfiguration(Configuration):
    """The SDK's configuration with its sandbox base URL swapped for the simulator's."""

    def get_base_uri(self, server=Server.DEFAULT):
        return SIMULATOR_URL


@pytest.fixture
def client():
    config = SimulatorConfiguration(
        environment=Environment.SANDBOX,
        client_credentials_auth_credentials=ClientCredentialsAuthCredentials(
            o_auth_client_id=CLIENT_ID,
            o_auth_client_secret=CLIENT_SECRET,
        ),
    )
    return PaypalServersdkClient(config=config)


def test_client_credentials_grant_yields_a_bearer_token(client):
    token = client.oauth_2.fetch_token()

    assert token.token_type == "Bearer"
    assert token.access_token
    assert token.expires_in > 0


def test_an_order_is_created_approved_captured_and_partly_refunded_through_the_sdk(client):
    created = client.orders.create_order(
        {
            "body": OrderRequest(
                intent=CheckoutPaymentIntent.CAPTURE,
                purchase_units=[
                    PurchaseUnitRequest(
                        reference_id="default",
                        invoice_id=f"INV-{uuid.uuid4().hex[:12]}",
                        amount=AmountWithBreakdown(currency_code="USD", value="100.00"),
                    )
                ],
            ),
            "paypal_request_id": str(uuid.uuid4()),
            "prefer": "return=representation",
        }
    )
    assert created.status_code == 201
    order = created.body
    assert order.status == "CREATED"
    assert [link.rel for link in order.links] == ["self", "approve", "update", "capture"]

    shown = client.orders.get_order({"id": order.id})
    assert shown.status_code == 200
    assert shown.body.purchase_units[0].amount.value == "100.00"

    # The buyer approves at PayPal: the simulator's control endpoint plays that part.
    approval = requests.post(f"{SIMULATOR_URL}/sandbox/paypal/orders/{order.id}/approve", timeout=10)
    assert approval.status_code == 200, approval.text

    captured = client.orders.capture_order(
        {"id": order.id, "paypal_request_id": str(uuid.uuid4()), "prefer": "return=representation"}
    )
    assert captured.status_code == 201
    assert captured.body.status == "COMPLETED"
    assert captured.body.payer.payer_id == approval.json()["payer_id"]
    capture = captured.body.purchase_units[0].payments.captures[0]
    assert capture.status == "COMPLETED"
    assert capture.amount.value == "100.00"

    fetched = client.payments.get_captured_payment({"capture_id": capture.id})
    assert fetched.status_code == 200
    assert fetched.body.supplementary_data.related_ids.order_id == order.id
    assert fetched.body.seller_receivable_breakdown.gross_amount.value == "100.00"

    refunded = client.payments.refund_captured_payment(
        {
            "capture_id": capture.id,
            "paypal_request_id": str(uuid.uuid4()),
            "prefer": "return=representation",
            "body": RefundRequest(amount=Money(currency_code="USD", value="30.00"), note_to_payer="Partial refund"),
        }
    )
    assert refunded.status_code == 201
    assert refunded.body.status == "COMPLETED"
    assert refunded.body.amount.value == "30.00"

    refund = client.payments.get_refund({"refund_id": refunded.body.id})
    assert refund.status_code == 200
    assert refund.body.amount.value == "30.00"
    assert refund.body.seller_payable_breakdown.total_refunded_amount.value == "30.00"

    after = client.payments.get_captured_payment({"capture_id": capture.id})
    assert after.body.status == "PARTIALLY_REFUNDED"


def test_capturing_an_unapproved_order_raises_the_sdks_error_with_paypals_issue(client):
    from paypalserversdk.exceptions.error_exception import ErrorException

    order = client.orders.create_order(
        {
            "body": OrderRequest(
                intent=CheckoutPaymentIntent.CAPTURE,
                purchase_units=[PurchaseUnitRequest(amount=AmountWithBreakdown(currency_code="EUR", value="5.00"))],
            )
        }
    ).body

    with pytest.raises(ErrorException) as raised:
        client.orders.capture_order({"id": order.id})

    assert raised.value.response_code == 422
    assert raised.value.name == "UNPROCESSABLE_ENTITY"
    assert raised.value.details[0].issue == "ORDER_NOT_APPROVED"


def test_an_authorize_order_is_updated_authorized_captured_in_part_and_voided_through_the_sdk(client):
    created = client.orders.create_order(
        {
            "body": OrderRequest(
                intent=CheckoutPaymentIntent.AUTHORIZE,
                purchase_units=[
                    PurchaseUnitRequest(
                        reference_id="default", amount=AmountWithBreakdown(currency_code="USD", value="40.00")
                    )
                ],
            ),
            "paypal_request_id": str(uuid.uuid4()),
            "prefer": "return=representation",
        }
    )
    order = created.body
    assert [link.rel for link in order.links] == ["self", "approve", "update", "authorize"]

    patched = client.orders.patch_order(
        {
            "id": order.id,
            "body": [
                Patch(
                    op=PatchOp.REPLACE,
                    path="/purchase_units/@reference_id=='default'/amount",
                    value={"currency_code": "USD", "value": "50.00"},
                )
            ],
        }
    )
    assert patched.status_code == 204

    approval = requests.post(f"{SIMULATOR_URL}/sandbox/paypal/orders/{order.id}/approve", timeout=10)
    assert approval.status_code == 200, approval.text
    authorized = client.orders.authorize_order(
        {"id": order.id, "paypal_request_id": str(uuid.uuid4()), "prefer": "return=representation"}
    )
    assert authorized.status_code == 201
    authorization = authorized.body.purchase_units[0].payments.authorizations[0]
    assert authorization.status == "CREATED"
    assert authorization.amount.value == "50.00"

    shown = client.payments.get_authorized_payment({"authorization_id": authorization.id})
    assert shown.status_code == 200
    assert shown.body.supplementary_data.related_ids.order_id == order.id

    captured = client.payments.capture_authorized_payment(
        {
            "authorization_id": authorization.id,
            "paypal_request_id": str(uuid.uuid4()),
            "prefer": "return=representation",
            "body": CaptureRequest(amount=Money(currency_code="USD", value="20.00"), final_capture=False),
        }
    )
    assert captured.status_code == 201
    assert captured.body.status == "COMPLETED"
    assert captured.body.amount.value == "20.00"
    assert client.payments.get_authorized_payment({"authorization_id": authorization.id}).body.status == (
        "PARTIALLY_CAPTURED"
    )

    voided = client.payments.void_payment({"authorization_id": authorization.id, "paypal_request_id": str(uuid.uuid4())})
    assert voided.status_code == 204
    assert client.payments.get_authorized_payment({"authorization_id": authorization.id}).body.status == "VOIDED"
