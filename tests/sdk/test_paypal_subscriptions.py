"""PayPal's official Python SDK (paypal-server-sdk 2.x) subscriptions calls against payhub's PayPal
simulator, with only the base URL changed.

The SDK has no Catalog Products controller, so the product is created with plain requests and the
SDK's own access token. The buyer's consent and the passing of time are played by the simulator's
control endpoints.

Run a simulator first (`payhub sandbox`, which prints `paypal simulator listening on URL`) and
point PAYHUB_SANDBOX_PAYPAL_URL at it:

    pip install 'paypal-server-sdk>=2,<3' pytest requests
    PAYHUB_SANDBOX_PAYPAL_URL=http://127.0.0.1:4010 pytest tests/sdk
"""

import os
import uuid
from datetime import datetime, timedelta

import pytest
import requests
from paypalserversdk.configuration import Configuration, Environment, Server
from paypalserversdk.exceptions.subscription_error_exception import SubscriptionErrorException
from paypalserversdk.http.auth.o_auth_2 import ClientCredentialsAuthCredentials
from paypalserversdk.models.activate_subscription_request import ActivateSubscriptionRequest
from paypalserversdk.models.cancel_subscription_request import CancelSubscriptionRequest
from paypalserversdk.models.create_subscription_request import CreateSubscriptionRequest
from paypalserversdk.models.cycle_frequency import CycleFrequency
from paypalserversdk.models.money import Money
from paypalserversdk.models.payment_preferences import PaymentPreferences
from paypalserversdk.models.plan_request import PlanRequest
from paypalserversdk.models.subscription_application_context import SubscriptionApplicationContext
from paypalserversdk.models.subscription_billing_cycle import SubscriptionBillingCycle
from paypalserversdk.models.subscription_pricing_scheme import SubscriptionPricingScheme
from paypalserversdk.models.suspend_subscription import SuspendSubscription
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


def make_client():
    config = SimulatorConfiguration(
        environment=Environment.SANDBOX,
        client_credentials_auth_credentials=ClientCredentialsAuthCredentials(
            o_auth_client_id=CLIENT_ID,
            o_auth_client_secret=CLIENT_SECRET,
        ),
    )
    return PaypalServersdkClient(config=config)


@pytest.fixture
def client():
    return make_client()


def bearer(client):
    """A fresh token from the SDK: simulator tokens expire as the test clock moves on."""
    return client.oauth_2.fetch_token().access_token


def create_product(client):
    response = requests.post(
        f"{SIMULATOR_URL}/v1/catalogs/products",
        headers={"Authorization": f"Bearer {bearer(client)}", "PayPal-Request-Id": str(uuid.uuid4())},
        json={"name": "Video Streaming Service", "type": "SERVICE", "category": "SOFTWARE"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def cycle(tenure_type, sequence, unit, count, total, value):
    return SubscriptionBillingCycle(
        frequency=CycleFrequency(interval_unit=unit, interval_count=count),
        tenure_type=tenure_type,
        sequence=sequence,
        total_cycles=total,
        pricing_scheme=SubscriptionPricingScheme(fixed_price=Money(currency_code="USD", value=value)),
    )


def create_weekly_plan_with_a_free_trial(client, product_id):
    created = client.subscriptions.create_billing_plan(
        {
            "body": PlanRequest(
                product_id=product_id,
                name="Weekly after a 3-day trial",
                billing_cycles=[
                    cycle("TRIAL", 1, "DAY", 3, 1, "0"),
                    cycle("REGULAR", 2, "WEEK", 1, 0, "4.99"),
                ],
                payment_preferences=PaymentPreferences(auto_bill_outstanding=True, payment_failure_threshold=3),
            ),
            "paypal_request_id": str(uuid.uuid4()),
            "prefer": "return=representation",
        }
    )
    assert created.status_code == 201
    return created.body


def simulator_now():
    response = requests.get(f"{SIMULATOR_URL}/sandbox/clock", timeout=10)
    assert response.status_code == 200, response.text
    return datetime.fromisoformat(response.json()["now"].replace("Z", "+00:00"))


def advance(by):
    response = requests.post(f"{SIMULATOR_URL}/sandbox/clock/advance", json={"by": by}, timeout=30)
    assert response.status_code == 200, response.text


def test_a_plan_is_created_shown_and_listed_through_the_sdk(client):
    product_id = create_product(client)
    plan = create_weekly_plan_with_a_free_trial(client, product_id)
    assert plan.status == "ACTIVE"
    assert [c.tenure_type for c in plan.billing_cycles] == ["TRIAL", "REGULAR"]

    shown = client.subscriptions.get_billing_plan(plan.id)
    assert shown.status_code == 200
    assert shown.body.billing_cycles[1].pricing_scheme.fixed_price.value == "4.99"
    assert shown.body.payment_preferences.payment_failure_threshold == 3

    listed = client.subscriptions.list_billing_plans({"product_id": product_id, "total_required": True})
    assert listed.status_code == 200
    assert [p.id for p in listed.body.plans] == [plan.id]
    assert listed.body.total_items == 1


def test_a_plan_with_three_trial_cycles_raises_the_sdks_error_with_paypals_issue(client):
    product_id = create_product(client)
    with pytest.raises(SubscriptionErrorException) as raised:
        client.subscriptions.create_billing_plan(
            {
                "body": PlanRequest(
                    product_id=product_id,
                    name="Too many trials",
                    billing_cycles=[
                        cycle("TRIAL", 1, "WEEK", 1, 1, "1.00"),
                        cycle("TRIAL", 2, "WEEK", 1, 1, "2.00"),
                        cycle("TRIAL", 3, "WEEK", 1, 1, "3.00"),
                        cycle("REGULAR", 4, "WEEK", 1, 0, "4.99"),
                    ],
                    payment_preferences=PaymentPreferences(),
                )
            }
        )
    assert raised.value.response_code == 422
    assert raised.value.details[0].issue == "MORE_THAN_TWO_TRIAL_BILLING_CYCLE_NOT_SUPPORTED"


def test_a_subscription_is_approved_renewed_suspended_reactivated_and_cancelled_through_the_sdk(client):
    plan = create_weekly_plan_with_a_free_trial(client, create_product(client))
    created = client.subscriptions.create_subscription(
        {
            "body": CreateSubscriptionRequest(
                plan_id=plan.id,
                custom_id="member-42",
                application_context=SubscriptionApplicationContext(
                    return_url="https://shop.example/paypal/return",
                    cancel_url="https://shop.example/paypal/cancel",
                    brand_name="Example Streaming",
                ),
            ),
            "paypal_request_id": str(uuid.uuid4()),
            "prefer": "return=representation",
        }
    )
    assert created.status_code == 201
    subscription = created.body
    assert subscription.status == "APPROVAL_PENDING"
    assert any(link.rel == "approve" for link in subscription.links)

    # The buyer consents at PayPal: the simulator's control endpoint plays that part.
    approval = requests.post(f"{SIMULATOR_URL}/sandbox/paypal/subscriptions/{subscription.id}/approve", timeout=10)
    assert approval.status_code == 200, approval.text
    assert f"subscription_id={subscription.id}" in approval.json()["redirect_url"]

    shown = client.subscriptions.get_subscription({"id": subscription.id})
    assert shown.body.status == "ACTIVE"
    assert shown.body.custom_id == "member-42"
    executions = shown.body.billing_info.cycle_executions
    # The SDK decodes a zero count as None.
    assert [(e.tenure_type, e.cycles_completed or 0) for e in executions] == [("TRIAL", 1), ("REGULAR", 0)]
    assert shown.body.billing_info.next_billing_time.endswith("T10:00:00Z")

    # Past the free trial and one week: two renewals.
    advance("4d")
    advance("1w")
    # Tokens expire on the simulator's clock, which just moved 11 days; the SDK does not know.
    client = make_client()
    now = simulator_now()
    window_start = (now - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    window_end = (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    transactions = client.subscriptions.list_subscription_transactions(
        {"id": subscription.id, "start_time": window_start, "end_time": window_end}
    )
    assert transactions.status_code == 200
    assert [t.status for t in transactions.body.transactions] == ["COMPLETED", "COMPLETED"]
    assert transactions.body.transactions[0].amount_with_breakdown.gross_amount.value == "4.99"

    suspended = client.subscriptions.suspend_subscription(
        {"id": subscription.id, "body": SuspendSubscription(reason="Customer asked for a pause")}
    )
    assert suspended.status_code == 204
    assert client.subscriptions.get_subscription({"id": subscription.id}).body.status == "SUSPENDED"

    activated = client.subscriptions.activate_subscription(
        {"id": subscription.id, "body": ActivateSubscriptionRequest(reason="Pause is over")}
    )
    assert activated.status_code == 204
    assert client.subscriptions.get_subscription({"id": subscription.id}).body.status == "ACTIVE"

    cancelled = client.subscriptions.cancel_subscription(
        {"id": subscription.id, "body": CancelSubscriptionRequest(reason="Not satisfied with the service")}
    )
    assert cancelled.status_code == 204
    final = client.subscriptions.get_subscription({"id": subscription.id}).body
    assert final.status == "CANCELLED"
    assert final.status_change_note == "Not satisfied with the service"

    with pytest.raises(SubscriptionErrorException) as raised:
        client.subscriptions.suspend_subscription({"id": subscription.id, "body": SuspendSubscription(reason="again")})
    assert raised.value.response_code == 422
    assert raised.value.details[0].issue == "SUBSCRIPTION_STATUS_INVALID"
