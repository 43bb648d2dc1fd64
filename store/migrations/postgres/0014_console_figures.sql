-- The console's overview counts one mode's payments and refunds of a period (today, the last
-- 24 hours): without these it would read every payment of the mode to find a day's.
CREATE INDEX payments_by_mode_created ON payments (mode, created_at);
CREATE INDEX refunds_by_mode_created ON refunds (mode, created_at);
