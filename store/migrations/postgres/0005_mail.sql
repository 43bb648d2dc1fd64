-- Mail to the merchant's people about chosen events (PostgreSQL dialect; identical columns in the other).

-- Who is mailed about which event types: rewritten from [notifications] when payhub starts.
CREATE TABLE mail_recipients (
    address      TEXT PRIMARY KEY,
    event_types  TEXT NOT NULL
);

-- The mail outbox: one row per (event, recipient), written in the event's transaction.
CREATE TABLE mails (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id         TEXT NOT NULL,
    recipient        TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    locked_until     BIGINT,
    last_error       TEXT,
    sent_at          BIGINT,
    created_at       BIGINT NOT NULL,
    UNIQUE (event_id, recipient)
);
CREATE INDEX mails_due ON mails (next_attempt_at) WHERE status = 'pending';

CREATE TABLE mail_attempts (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mail_id       BIGINT NOT NULL,
    attempt       BIGINT NOT NULL,
    attempted_at  BIGINT NOT NULL,
    error         TEXT,
    duration_ms   BIGINT NOT NULL
);
CREATE INDEX mail_attempts_by_mail ON mail_attempts (mail_id, id);
