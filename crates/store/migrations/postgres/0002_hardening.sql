-- Production hardening (issue 7). Same in both dialects: sign-in limits shared by every instance, the operator
-- lock-out per name and client address, the 授权 challenge, one open payment per order and channel, and money
-- that arrived for a cancelled order flagged for refund.

-- Counters of sign-in events per subject (a mobile number, a client address) and time bucket (an hour, a
-- Beijing day): incremented atomically with an upsert, so that several instances share one count.
CREATE TABLE rate_counters (
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    bucket BIGINT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (kind, subject, bucket)
);

-- Wrong operator passwords per sign-in name and client address. An attempt is counted before its password is
-- checked, so parallel guesses cannot all be evaluated before the lock-out.
CREATE TABLE login_failures (
    name TEXT NOT NULL,
    ip TEXT NOT NULL,
    failures BIGINT NOT NULL,
    last_at BIGINT NOT NULL,
    PRIMARY KEY (name, ip)
);

-- The fresh challenge the applicant's key must sign at 授权: one live challenge per order, used once.
CREATE TABLE auth_challenges (
    order_id BIGINT PRIMARY KEY,
    nonce TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

ALTER TABLE payments ADD COLUMN refund_due SMALLINT NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX payments_open ON payments (order_id, channel) WHERE state = 'pending';
