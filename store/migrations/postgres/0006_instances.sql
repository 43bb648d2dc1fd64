-- The hub processes serving this database, so a request a dead process left half-done is
-- taken over by the client's retry at once instead of after a timeout.
CREATE TABLE hub_instances (
    id            TEXT PRIMARY KEY,
    host          TEXT NOT NULL,
    pid           BIGINT NOT NULL,
    started_at    BIGINT NOT NULL,
    heartbeat_at  BIGINT NOT NULL,
    stopped_at    BIGINT
);

-- Which instance runs an in-progress request, and the id of the resource the request creates
-- (the same on a retry, so a resumed request finds or recreates that very resource).
ALTER TABLE idempotency_keys ADD COLUMN holder TEXT;
ALTER TABLE idempotency_keys ADD COLUMN request_id TEXT;
