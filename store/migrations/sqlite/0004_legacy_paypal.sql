-- Payments made at the provider outside payhub (a legacy checkout or a PayPal button sending
-- IPN) are adopted from verified notifications; every earlier payment was payhub's own.
ALTER TABLE payments ADD COLUMN origin TEXT NOT NULL DEFAULT 'payhub' CHECK (origin IN ('payhub', 'external'));
