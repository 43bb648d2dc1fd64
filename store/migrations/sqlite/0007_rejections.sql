-- How many notifications were refused, by provider, reason and source network: a flood of
-- forgeries is told in a few rows, while rejected_notifications keeps only a sample of them.
CREATE TABLE rejection_counts (
    provider   TEXT NOT NULL,
    reason     TEXT NOT NULL,
    source     TEXT NOT NULL,
    count      BIGINT NOT NULL,
    first_at   BIGINT NOT NULL,
    last_at    BIGINT NOT NULL,
    PRIMARY KEY (provider, reason, source)
);
CREATE INDEX rejection_counts_by_age ON rejection_counts (last_at);
CREATE INDEX rejected_notifications_by_age ON rejected_notifications (received_at);
