-- Each event's place among the events of its resource (1, 2, 3, …), so a receiver can tell
-- a stale event from a newer one whatever order deliveries arrive in.
ALTER TABLE events ADD COLUMN sequence BIGINT NOT NULL DEFAULT 0;
UPDATE events SET sequence = (
    SELECT COUNT(*) FROM events AS earlier
    WHERE earlier.resource_id = events.resource_id AND earlier.seq <= events.seq
);
CREATE UNIQUE INDEX events_by_resource_sequence ON events (resource_id, sequence);
