-- The console lists a mode's parked notifications (those the processor gave up on, kept for
-- a person) newest first, and counts them; they are few among many processed rows.
CREATE INDEX inbox_parked ON inbox (mode, id) WHERE status = 'failed';
