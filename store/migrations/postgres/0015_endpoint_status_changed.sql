-- When an endpoint was last disabled or enabled. Disabling fails the deliveries it holds, so a
-- dispatcher holding claimed deliveries for an endpoint whose status changed since checks that
-- its claims still stand; an endpoint whose status never changed needs no such check. Existing
-- endpoints take their last change of any kind, which asks for the check when in doubt.
ALTER TABLE webhook_endpoints ADD COLUMN status_changed_at BIGINT;
UPDATE webhook_endpoints SET status_changed_at = updated_at;
