-- Operator roles (issue 10): reviewer, issuer, finance, auditor, comma-separated codes. Operators made before
-- roles existed reviewed orders, so they keep doing that; a super-administrator (is_admin) has every role.
ALTER TABLE operators ADD COLUMN roles TEXT NOT NULL DEFAULT 'reviewer';
