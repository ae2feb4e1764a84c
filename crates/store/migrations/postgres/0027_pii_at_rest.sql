-- 个人信息加密存储 (src/pii.rs): personal data sealed with SM4-GCM, looked up by its HMAC-SM3 blind index.
-- Only nullable columns and new objects: safe on a database that has rows, whichever other migrations it has.
-- Rows written before stay readable in clear (`applicants.mobile`, `orders.body`) and are sealed on first
-- sign-in or by `sealdesk keys reencrypt`; `applicants.mobile` then holds the sealed number (unique, since
-- every nonce is fresh) and `mobile_index` the lookup value.
ALTER TABLE applicants ADD COLUMN mobile_index TEXT;
CREATE UNIQUE INDEX applicants_mobile_index ON applicants (mobile_index);
-- The console's search by a whole mobile number (the search text no longer holds it).
ALTER TABLE orders ADD COLUMN mobile_index TEXT;
CREATE INDEX orders_mobile_index ON orders (mobile_index);
-- One check value per key (HMAC or GCM tag under it): an instance started with other keys refuses to run.
CREATE TABLE pii_key_checks (
    name TEXT PRIMARY KEY,
    check_value TEXT NOT NULL
);
