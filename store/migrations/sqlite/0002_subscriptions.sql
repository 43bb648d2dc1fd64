-- Plans, subscriptions and entitlements (SQLite dialect; identical columns in PostgreSQL).

CREATE TABLE plans (
    id                         TEXT PRIMARY KEY,
    mode                       TEXT NOT NULL,
    provider                   TEXT NOT NULL,
    name                       TEXT NOT NULL,
    product                    TEXT NOT NULL,
    description                TEXT,
    status                     TEXT NOT NULL,
    currency                   TEXT NOT NULL,
    trial_cycles               TEXT NOT NULL,
    regular_cycle              TEXT NOT NULL,
    setup_fee                  BIGINT NOT NULL,
    tax_basis_points           BIGINT NOT NULL,
    payment_failure_threshold  BIGINT NOT NULL,
    entitlement                TEXT NOT NULL,
    provider_product_id        TEXT,
    provider_plan_id           TEXT,
    created_at                 BIGINT NOT NULL,
    updated_at                 BIGINT NOT NULL
);
CREATE INDEX plans_by_mode ON plans (mode, id);

CREATE TABLE subscriptions (
    id                        TEXT PRIMARY KEY,
    mode                      TEXT NOT NULL,
    provider                  TEXT NOT NULL,
    plan_id                   TEXT NOT NULL REFERENCES plans (id),
    customer_id               TEXT NOT NULL,
    quantity                  BIGINT NOT NULL,
    status                    TEXT NOT NULL,
    current_period_end        BIGINT,
    trial_end                 BIGINT,
    failed_payments           BIGINT NOT NULL,
    payments_count            BIGINT NOT NULL,
    canceled_at               BIGINT,
    return_url                TEXT,
    cancel_url                TEXT,
    next_action               TEXT,
    provider_subscription_id  TEXT,
    metadata                  TEXT NOT NULL,
    version                   BIGINT NOT NULL,
    next_check_at             BIGINT,
    synced_at                 BIGINT,
    created_at                BIGINT NOT NULL,
    updated_at                BIGINT NOT NULL
);
CREATE INDEX subscriptions_by_mode ON subscriptions (mode, id);
CREATE INDEX subscriptions_by_customer ON subscriptions (mode, customer_id, id);
CREATE UNIQUE INDEX subscriptions_by_provider_id ON subscriptions (provider, provider_subscription_id) WHERE provider_subscription_id IS NOT NULL;
CREATE INDEX subscriptions_due_for_check ON subscriptions (next_check_at) WHERE next_check_at IS NOT NULL;

CREATE TABLE entitlements (
    id               TEXT PRIMARY KEY,
    mode             TEXT NOT NULL,
    customer_id      TEXT NOT NULL,
    entitlement      TEXT NOT NULL,
    subscription_id  TEXT NOT NULL UNIQUE REFERENCES subscriptions (id),
    status           TEXT NOT NULL,
    valid_until      BIGINT NOT NULL,
    revoked_at       BIGINT,
    revoke_reason    TEXT,
    version          BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX entitlements_by_customer ON entitlements (mode, customer_id, id);
CREATE INDEX entitlements_lapsing ON entitlements (valid_until) WHERE status = 'active';

-- Renewals are payments of their subscription.
ALTER TABLE payments ADD COLUMN subscription_id TEXT;
CREATE INDEX payments_by_subscription ON payments (subscription_id, id) WHERE subscription_id IS NOT NULL;
