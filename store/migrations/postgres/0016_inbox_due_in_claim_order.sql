-- The index of pending notifications carries the claim's whole order (next_attempt_at, id).
-- On next_attempt_at alone, PostgreSQL sorted every pending notification due at the same time
-- to find the first of them by id: a backlog received within one millisecond, or put back to
-- the same time, made each claim sort all of it (58 ms a claim behind 50,000 such). SQLite's
-- index already ended with the rowid, which is id; it is rebuilt here so both stores hold the
-- same schema.
DROP INDEX inbox_due;
CREATE INDEX inbox_due ON inbox (next_attempt_at, id) WHERE status = 'pending';
