-- 个人信息加密存储 of the SMS outbox (src/pii.rs): a keyed store seals each message's mobile number, text and
-- template variables with SM4-GCM and finds a number's messages by this HMAC-SM3 blind index instead of the number.
-- A nullable column and an index only: rows written before stay in clear, readable, until `sealdesk keys
-- reencrypt` seals them.
ALTER TABLE sms_outbox ADD COLUMN mobile_index TEXT;
CREATE INDEX sms_outbox_mobile_index ON sms_outbox (mobile_index, id);
