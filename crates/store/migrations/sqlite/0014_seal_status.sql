-- Seal status (issue 12): when and why a seal was revoked (已注销), for the status API and the signed list.
ALTER TABLE seals ADD COLUMN revoked_at TEXT;
ALTER TABLE seals ADD COLUMN revoke_reason TEXT;
CREATE INDEX seals_revoked ON seals (revoked);
