-- Disputes buyers open at a provider, the flag on the payments they dispute, and where the
-- periodic sweep of each provider's disputes got to.

ALTER TABLE payments ADD COLUMN disputed BIGINT NOT NULL DEFAULT 0;

CREATE TABLE disputes (
    id                   TEXT PRIMARY KEY,
    mode                 TEXT NOT NULL,
    provider             TEXT NOT NULL,
    payment_id           TEXT NOT NULL REFERENCES payments (id),
    provider_dispute_id  TEXT NOT NULL,
    status               TEXT NOT NULL,
    stage                TEXT NOT NULL,
    reason               TEXT NOT NULL,
    amount               BIGINT NOT NULL,
    currency             TEXT NOT NULL,
    response_due_at      BIGINT,
    buyer_message        TEXT,
    messages             TEXT NOT NULL,
    offers               TEXT NOT NULL,
    evidence             TEXT NOT NULL,
    outcome              TEXT,
    allowed_actions      TEXT NOT NULL,
    reminded_for         BIGINT,
    provider_updated_at  BIGINT,
    version              BIGINT NOT NULL,
    next_check_at        BIGINT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    CHECK (amount > 0)
);
CREATE UNIQUE INDEX disputes_by_provider_id ON disputes (provider, provider_dispute_id);
CREATE INDEX disputes_by_mode ON disputes (mode, id);
CREATE INDEX disputes_by_payment ON disputes (payment_id, id);
CREATE INDEX disputes_due_for_check ON disputes (next_check_at) WHERE next_check_at IS NOT NULL;

CREATE TABLE dispute_sweeps (
    provider     TEXT NOT NULL,
    mode         TEXT NOT NULL,
    swept_until  BIGINT NOT NULL,
    PRIMARY KEY (provider, mode)
);
