-- Money and messages (issue 11).
--
-- SMS delivery: the outbox row is also the delivery record. A sender worker claims due rows with a short lease
-- (so several instances never send one message at once), then marks them sent or schedules a retry; `params`
-- holds the template variables a template-based gateway (Aliyun) needs. Messages written before this migration
-- are not sent late: they are marked failed.
ALTER TABLE sms_outbox ADD COLUMN params TEXT NOT NULL DEFAULT '{}';
ALTER TABLE sms_outbox ADD COLUMN status TEXT NOT NULL DEFAULT 'pending';
ALTER TABLE sms_outbox ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sms_outbox ADD COLUMN next_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sms_outbox ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sms_outbox ADD COLUMN provider TEXT;
ALTER TABLE sms_outbox ADD COLUMN gateway_id TEXT;
ALTER TABLE sms_outbox ADD COLUMN last_error TEXT;
UPDATE sms_outbox SET status = 'failed', last_error = '升级前写入的短信，未发送';
CREATE INDEX sms_outbox_due ON sms_outbox (status, next_at);

-- Payments at real gateways: where the applicant pays (page URL or QR text), and the refund made through the
-- same gateway.
ALTER TABLE payments ADD COLUMN checkout TEXT;
ALTER TABLE payments ADD COLUMN refund_txn TEXT;
ALTER TABLE payments ADD COLUMN refunded_at TEXT;
CREATE INDEX payments_state ON payments (state, channel);

-- One row per reminder ever sent (`seal-end:<order>:<days>`): the primary key makes each reminder once-only even
-- when several instances run the reminder job at the same moment.
CREATE TABLE reminders_sent (
    key TEXT PRIMARY KEY,
    sms_id BIGINT NOT NULL,
    created_at TEXT NOT NULL
);
