-- Why a processing payment waits at the provider (PayPal's pending reasons, in payhub's
-- lower_snake names); cleared when the payment moves on.
ALTER TABLE payments ADD COLUMN pending_reason TEXT;
