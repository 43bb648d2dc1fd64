-- Secret rotation: the secret a rotation replaced keeps signing deliveries, beside the new
-- one, until it expires, so receivers can switch without losing events.
ALTER TABLE webhook_endpoints ADD COLUMN previous_secret TEXT;
ALTER TABLE webhook_endpoints ADD COLUMN previous_secret_expires_at BIGINT;
-- The request (Idempotency-Key) whose rotation set the current secret: its retry after a
-- crash finds that rotation done instead of rotating again.
ALTER TABLE webhook_endpoints ADD COLUMN secret_rotated_by TEXT;

-- A value encrypted with the key that encrypts secrets at rest, so a process started with
-- another key refuses to start instead of failing to sign (one row per purpose).
CREATE TABLE key_checks (
    purpose      TEXT PRIMARY KEY,
    check_value  TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
