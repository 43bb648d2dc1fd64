"""Ping++'s official Python SDK (`pingpp` on PyPI) against payhub's Ping++ simulator.

The SDK is used exactly as a merchant would use it against Ping++, request signing included;
the only change is `pingpp.api_base`, so this proves the simulator speaks Ping++'s API (paths,
JSON shapes, statuses, the request signature) and signs webhooks as Ping++ does.

Run a simulator first (`payhub sandbox`, which prints `pingpp simulator listening on URL`) and
point PAYHUB_SANDBOX_PINGPP_URL at it:

    pip install pingpp pytest requests cryptography
    PAYHUB_SANDBOX_PINGPP_URL=http://127.0.0.1:8082 pytest tests/sdk/test_pingpp.py
"""

import http.server
import json
import os
import pathlib
import threading
import time
import uuid

import pytest
import requests

pingpp = pytest.importorskip("pingpp")
from cryptography.exceptions import InvalidSignature  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding  # noqa: E402

# The simulator's account (payhub_sandbox::SANDBOX_PINGPP_APP_ID / _SECRET_KEY) and its public
# test keys (sandbox/keys/pingpp_*): never to be used with the real Ping++.
APP_ID = "app_payhubSandbox001"
SECRET_KEY = "sk_test_payhubSandboxSecretKey01"
KEYS = pathlib.Path(__file__).resolve().parents[2] / "sandbox" / "keys"
SIMULATOR_URL = os.environ.get("PAYHUB_SANDBOX_PINGPP_URL", "").rstrip("/")

pytestmark = pytest.mark.skipif(not SIMULATOR_URL, reason="PAYHUB_SANDBOX_PINGPP_URL is not set")


def control(method, path, **kwargs):
    response = requests.request(method, f"{SIMULATOR_URL}{path}", timeout=10, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def order_no():
    return uuid.uuid4().hex[:20]


@pytest.fixture
def signed_sdk():
    """The SDK configured as a merchant with request signing on (the merchant's public key
    uploaded to "the dashboard", the simulator's control endpoint)."""
    public_key = (KEYS / "pingpp_merchant_public_key.pem").read_text()
    control("PUT", "/sandbox/pingpp/merchant-key", json={"public_key": public_key})
    pingpp.api_base = SIMULATOR_URL
    pingpp.api_key = SECRET_KEY
    pingpp.private_key = (KEYS / "pingpp_merchant_private_key.pem").read_text()
    yield pingpp
    pingpp.private_key = None
    control("DELETE", "/sandbox/pingpp/merchant-key")


class WebhookReceiver(http.server.BaseHTTPRequestHandler):
    deliveries = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        WebhookReceiver.deliveries.append((dict(self.headers), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook_receiver():
    WebhookReceiver.deliveries = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), WebhookReceiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/pingpp"
    control("PUT", "/sandbox/pingpp/webhook", json={"url": url})
    yield WebhookReceiver.deliveries
    control("DELETE", "/sandbox/pingpp/webhook", json={"url": url})
    server.shutdown()


def wait_for_event(deliveries, event_type, object_id):
    for _ in range(100):
        for headers, body in list(deliveries):
            event = json.loads(body)
            if event["type"] == event_type and event["data"]["object"]["id"] == object_id:
                return headers, body
        time.sleep(0.05)
    raise AssertionError(f"no {event_type} for {object_id} within 5 s")


def verify_webhook(raw_body, signature_base64):
    """Ping++'s documented check: RSA-SHA256 over the raw body with the Ping++ public key."""
    import base64

    public_key = serialization.load_pem_public_key((KEYS / "pingpp_platform_public_key.pem").read_bytes())
    try:
        public_key.verify(base64.b64decode(signature_base64), raw_body, padding.PKCS1v15(), hashes.SHA256())
        return True
    except InvalidSignature:
        return False


def test_with_signing_on_the_sdk_signs_and_an_unsigned_call_is_refused(signed_sdk):
    charge = signed_sdk.Charge.create(
        order_no=order_no(),
        amount=100,
        app=dict(id=APP_ID),
        channel="alipay_qr",
        currency="cny",
        client_ip="127.0.0.1",
        subject="Your Subject",
        body="Your Body",
    )
    assert charge.credential.alipay_qr.startswith("https://qr.alipay.com/")

    signed_sdk.private_key = None
    with pytest.raises(pingpp.error.InvalidRequestError) as refused:
        signed_sdk.Charge.create(
            order_no=order_no(),
            amount=100,
            app=dict(id=APP_ID),
            channel="alipay_qr",
            currency="cny",
            client_ip="127.0.0.1",
            subject="Your Subject",
            body="Your Body",
        )
    assert refused.value.http_status == 400


def test_a_charge_is_created_retrieved_paid_and_refunded_through_the_sdk(signed_sdk):
    charge = signed_sdk.Charge.create(
        order_no=order_no(),
        amount=1000,
        app=dict(id=APP_ID),
        channel="wx_pub_qr",
        currency="cny",
        client_ip="127.0.0.1",
        subject="Your Subject",
        body="Your Body",
        extra=dict(product_id="88888888"),
    )
    assert charge.id.startswith("ch_")
    assert charge.paid is False
    assert charge.credential.wx_pub_qr.startswith("weixin://wxpay/bizpayurl?pr=")

    # The buyer scans the QR code and pays: the simulator's control endpoint plays that part.
    control("POST", f"/sandbox/pingpp/charges/{charge.id}/pay")

    retrieved = signed_sdk.Charge.retrieve(charge.id)
    assert retrieved.paid is True
    assert retrieved.transaction_no

    listed = signed_sdk.Charge.list(app=dict(id=APP_ID), limit=3)
    assert charge.id in [entry.id for entry in listed.data]

    refund = retrieved.refunds.create(amount=300, description="Refund Description")
    assert refund.object == "refund"
    assert refund.status == "pending"
    assert refund.charge == charge.id

    again = signed_sdk.Charge.refund(charge.id, description="the rest")
    assert again.amount == 700

    refunds = signed_sdk.Charge.list_refunds(charge.id)
    assert sorted(entry.amount for entry in refunds.data) == [300, 700]
    fetched = signed_sdk.Charge.retrieve_refund(charge.id, refund.id)
    assert fetched.id == refund.id


def test_an_order_is_created_paid_and_refunded_through_the_sdk(signed_sdk):
    order = signed_sdk.Order.create(
        app=APP_ID,
        uid="user_test_01",
        merchant_order_no=order_no(),
        amount=30,
        client_ip="127.0.0.1",
        currency="cny",
        subject="test1",
        body="test1body1",
        description="test1-description",
        metadata={},
    )
    assert order.object == "order"
    assert order.status == "created"

    opened = signed_sdk.Order.pay(order.id, charge_amount=30, channel="alipay_qr")
    assert opened.charge_essentials.channel == "alipay_qr"
    control("POST", f"/sandbox/pingpp/orders/{order.id}/pay")

    paid = signed_sdk.Order.retrieve(order.id)
    assert paid.status == "paid"
    assert paid.amount_paid == 30

    refunds = signed_sdk.Order.refund(
        order.id,
        description="Your description",
        refund_mode="to_source",
        royalty_users=[{"user": "test_user_002", "amount_refunded": 1}],
    )
    assert refunds.object == "list"
    assert len(refunds.data) == 1
    refund = refunds.data[0]
    assert refund.amount == 30
    assert refund.refund_mode == "to_source"

    listed = signed_sdk.Order.list_refunds(order.id)
    assert [entry.id for entry in listed.data] == [refund.id]
    assert signed_sdk.Order.retrieve_refund(order.id, refund.id).id == refund.id
    assert [entry.id for entry in signed_sdk.Order.list_charges(order.id).data] == [paid.charge]


def test_a_delivered_webhook_verifies_with_the_ping_plus_plus_public_key(signed_sdk, webhook_receiver):
    charge = signed_sdk.Charge.create(
        order_no=order_no(),
        amount=100,
        app=dict(id=APP_ID),
        channel="alipay",
        currency="cny",
        client_ip="127.0.0.1",
        subject="Your Subject",
        body="Your Body",
    )
    control("POST", f"/sandbox/pingpp/charges/{charge.id}/pay")

    headers, body = wait_for_event(webhook_receiver, "charge.succeeded", charge.id)
    signature = {name.lower(): value for name, value in headers.items()}["x-pingplusplus-signature"]

    assert verify_webhook(body, signature)
    assert not verify_webhook(body + b" ", signature)
    event = json.loads(body)
    assert event["object"] == "event"
    assert signed_sdk.Event.retrieve(event["id"]).type == "charge.succeeded"


def create_qr_charge(sdk, amount=100, channel="alipay_qr"):
    return sdk.Charge.create(
        order_no=order_no(),
        amount=amount,
        app=dict(id=APP_ID),
        channel=channel,
        currency="cny",
        client_ip="127.0.0.1",
        subject="Your Subject",
        body="Your Body",
        extra=dict(product_id="88888888") if channel == "wx_pub_qr" else {},
    )


def inject_fault(status):
    control("PUT", "/sandbox/pingpp/faults", json={"fail_next": 1, "status": status, "path_prefix": "/v1/charges"})


def test_an_invalid_parameter_raises_invalid_request_error_naming_it(signed_sdk):
    with pytest.raises(pingpp.error.InvalidRequestError) as raised:
        create_qr_charge(signed_sdk, amount=-5)
    assert (raised.value.http_status, raised.value.param) == (400, "amount")


def test_an_unknown_charge_raises_invalid_request_error(signed_sdk):
    with pytest.raises(pingpp.error.InvalidRequestError) as raised:
        signed_sdk.Charge.retrieve("ch_0000000000000000000000nothere")
    assert (raised.value.http_status, raised.value.param) == (404, "id")


def test_a_secret_key_the_account_does_not_have_raises_authentication_error(signed_sdk):
    signed_sdk.api_key = "sk_test_notakeyofthisaccount000"
    try:
        with pytest.raises(pingpp.error.AuthenticationError) as raised:
            signed_sdk.Charge.retrieve("ch_0000000000000000000000nothere")
    finally:
        signed_sdk.api_key = SECRET_KEY
    assert raised.value.http_status == 401


def test_a_channel_that_refuses_raises_channel_error_with_its_code(signed_sdk):
    refusal = {"failure_code": "SYSTEMERROR", "failure_msg": "系统繁忙"}
    control("PUT", "/sandbox/pingpp/channels/wx_pub_qr/refusal", json=refusal)
    try:
        with pytest.raises(pingpp.error.ChannelError) as raised:
            create_qr_charge(signed_sdk, channel="wx_pub_qr")
    finally:
        control("DELETE", "/sandbox/pingpp/channels/wx_pub_qr/refusal")
    assert (raised.value.http_status, raised.value.code) == (402, "SYSTEMERROR")
    assert "系统繁忙" in str(raised.value)
    assert create_qr_charge(signed_sdk, channel="wx_pub_qr").id.startswith("ch_"), "accepted again"


def test_a_403_rate_limit_raises_rate_limit_error(signed_sdk):
    inject_fault(403)
    with pytest.raises(pingpp.error.RateLimitError) as raised:
        create_qr_charge(signed_sdk)
    assert raised.value.http_status == 403


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_429_or_a_server_error_raises_api_error(signed_sdk, status):
    # The Python SDK names only 403 a rate limit; a gateway's 429 reaches it as an APIError.
    inject_fault(status)
    with pytest.raises(pingpp.error.APIError) as raised:
        create_qr_charge(signed_sdk)
    assert raised.value.http_status == status
    assert raised.value.json_body["error"]["type"] == ("rate_limit_error" if status == 429 else "api_error")
