-- Several instances on one database (issue 13, item 2).
-- The reconciliation job claims a payment it asks a gateway about until this time (Unix seconds), so that of
-- several instances one asks, once a round.
ALTER TABLE payments ADD COLUMN reconcile_lease_until BIGINT NOT NULL DEFAULT 0;

-- Order-id instance numbers (the snowflake's 10 bits) leased by running instances: a server that is not given
-- --instance takes a number no live instance holds, and renews it while it runs.
CREATE TABLE instance_leases (
    number INTEGER PRIMARY KEY,
    holder TEXT NOT NULL,
    seen_at BIGINT NOT NULL
);
