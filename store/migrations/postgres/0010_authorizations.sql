-- Payments with manual capture: the buyer's approval only authorizes, the provider holds the
-- money (what may still be captured, until when) and the merchant captures it later.
ALTER TABLE payments ADD COLUMN capture_method TEXT NOT NULL DEFAULT 'automatic';
ALTER TABLE payments ADD COLUMN amount_capturable BIGINT NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN provider_authorization_id TEXT;
ALTER TABLE payments ADD COLUMN authorization_expires_at BIGINT;
