-- payhub's schema, PostgreSQL dialect. Kept column-for-column identical to the SQLite one:
-- times are Unix milliseconds (BIGINT), JSON is TEXT, raw provider bodies are BYTEA.

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    mode          TEXT NOT NULL,
    name          TEXT NOT NULL,
    secret_hash   TEXT NOT NULL UNIQUE,
    secret_hint   TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT
);

CREATE TABLE payments (
    id                    TEXT PRIMARY KEY,
    mode                  TEXT NOT NULL,
    provider              TEXT NOT NULL,
    channel               TEXT NOT NULL,
    status                TEXT NOT NULL,
    amount                BIGINT NOT NULL,
    currency              TEXT NOT NULL,
    amount_captured       BIGINT NOT NULL DEFAULT 0,
    amount_refunded       BIGINT NOT NULL DEFAULT 0,
    amount_refund_pending BIGINT NOT NULL DEFAULT 0,
    merchant_reference    TEXT,
    description           TEXT,
    customer_id           TEXT,
    metadata              TEXT NOT NULL,
    return_url            TEXT,
    cancel_url            TEXT,
    provider_options      TEXT NOT NULL,
    next_action           TEXT,
    provider_payment_id   TEXT,
    provider_capture_id   TEXT,
    failure_code          TEXT,
    failure_message       TEXT,
    anomaly               TEXT,
    version               BIGINT NOT NULL,
    next_check_at         BIGINT,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL,
    CHECK (amount > 0),
    CHECK (amount_refunded >= 0 AND amount_refund_pending >= 0),
    CHECK (amount_refunded + amount_refund_pending <= amount_captured)
);
CREATE INDEX payments_by_mode ON payments (mode, id);
CREATE UNIQUE INDEX payments_by_provider_payment ON payments (provider, provider_payment_id) WHERE provider_payment_id IS NOT NULL;
CREATE INDEX payments_by_provider_capture ON payments (provider, provider_capture_id) WHERE provider_capture_id IS NOT NULL;
CREATE INDEX payments_due_for_check ON payments (next_check_at) WHERE next_check_at IS NOT NULL;

CREATE TABLE refunds (
    id                  TEXT PRIMARY KEY,
    mode                TEXT NOT NULL,
    payment_id          TEXT NOT NULL REFERENCES payments (id),
    provider            TEXT NOT NULL,
    status              TEXT NOT NULL,
    amount              BIGINT NOT NULL,
    currency            TEXT NOT NULL,
    reason              TEXT,
    metadata            TEXT NOT NULL,
    provider_options    TEXT NOT NULL,
    provider_refund_id  TEXT,
    failure_code        TEXT,
    failure_message     TEXT,
    version             BIGINT NOT NULL,
    next_check_at       BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    CHECK (amount > 0)
);
CREATE INDEX refunds_by_payment ON refunds (payment_id, id);
CREATE INDEX refunds_by_mode ON refunds (mode, id);
CREATE UNIQUE INDEX refunds_by_provider_refund ON refunds (provider, provider_refund_id) WHERE provider_refund_id IS NOT NULL;
CREATE INDEX refunds_due_for_check ON refunds (next_check_at) WHERE next_check_at IS NOT NULL;

-- Every state change of every resource, with its cause.
CREATE TABLE transitions (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resource_id  TEXT NOT NULL,
    from_status  TEXT NOT NULL,
    to_status    TEXT NOT NULL,
    cause        TEXT NOT NULL,
    at           BIGINT NOT NULL
);
CREATE INDEX transitions_by_resource ON transitions (resource_id, id);

-- The normalized event stream; seq orders it.
CREATE TABLE events (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    mode         TEXT NOT NULL,
    type         TEXT NOT NULL,
    resource_id  TEXT NOT NULL,
    data         TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX events_by_mode ON events (mode, seq);
CREATE INDEX events_by_resource ON events (resource_id, seq);

CREATE TABLE webhook_endpoints (
    id               TEXT PRIMARY KEY,
    mode             TEXT NOT NULL,
    url              TEXT NOT NULL,
    secret           TEXT NOT NULL,
    event_types      TEXT NOT NULL,
    description      TEXT,
    status           TEXT NOT NULL,
    disabled_reason  TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_by_mode ON webhook_endpoints (mode, id);

-- The outbox: one row per (event, endpoint), written in the event's transaction.
CREATE TABLE deliveries (
    id                TEXT PRIMARY KEY,
    event_id          TEXT NOT NULL,
    endpoint_id       TEXT NOT NULL,
    mode              TEXT NOT NULL,
    status            TEXT NOT NULL,
    attempts          BIGINT NOT NULL DEFAULT 0,
    next_attempt_at   BIGINT NOT NULL,
    locked_until      BIGINT,
    last_status_code  BIGINT,
    last_error        TEXT,
    delivered_at      BIGINT,
    created_at        BIGINT NOT NULL,
    UNIQUE (event_id, endpoint_id)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_by_endpoint ON deliveries (endpoint_id, id);

CREATE TABLE delivery_attempts (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id   TEXT NOT NULL,
    attempt       BIGINT NOT NULL,
    attempted_at  BIGINT NOT NULL,
    status_code   BIGINT,
    error         TEXT,
    duration_ms   BIGINT NOT NULL
);
CREATE INDEX delivery_attempts_by_delivery ON delivery_attempts (delivery_id, id);

-- Verified provider notifications, durable before the provider gets its 2xx.
CREATE TABLE inbox (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider           TEXT NOT NULL,
    mode               TEXT NOT NULL,
    provider_event_id  TEXT NOT NULL,
    event_type         TEXT NOT NULL,
    body               BYTEA NOT NULL,
    headers            TEXT NOT NULL,
    status             TEXT NOT NULL,
    attempts           BIGINT NOT NULL DEFAULT 0,
    next_attempt_at    BIGINT NOT NULL,
    locked_until       BIGINT,
    last_error         TEXT,
    received_at        BIGINT NOT NULL,
    processed_at       BIGINT,
    UNIQUE (provider, provider_event_id)
);
CREATE INDEX inbox_due ON inbox (next_attempt_at) WHERE status = 'pending';

-- Notifications that failed verification or parsing: kept for the on-call engineer, never applied.
CREATE TABLE rejected_notifications (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider     TEXT NOT NULL,
    reason       TEXT NOT NULL,
    detail       TEXT NOT NULL,
    headers      TEXT NOT NULL,
    body         BYTEA NOT NULL,
    received_at  BIGINT NOT NULL
);

CREATE TABLE idempotency_keys (
    mode                   TEXT NOT NULL,
    key                    TEXT NOT NULL,
    request_fingerprint    TEXT NOT NULL,
    status                 TEXT NOT NULL,
    response_status        BIGINT,
    response_content_type  TEXT,
    response_body          BYTEA,
    created_at             BIGINT NOT NULL,
    PRIMARY KEY (mode, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
