-- Finance (issue 11): invoices that can be voided and re-issued, and invoice e-mails. See the SQLite migration of
-- the same number for the reasons.
ALTER TABLE invoices DROP CONSTRAINT invoices_order_id_key;
ALTER TABLE invoices ADD COLUMN voided_at TEXT;
ALTER TABLE invoices ADD COLUMN void_reason TEXT;
ALTER TABLE invoices ADD COLUMN replaces BIGINT;
CREATE UNIQUE INDEX invoices_current ON invoices (order_id) WHERE voided_at IS NULL;
CREATE INDEX invoices_created ON invoices (created_at);

CREATE TABLE mail_outbox (
    id BIGINT PRIMARY KEY,
    to_addr TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    invoice_id BIGINT,
    order_id BIGINT,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts BIGINT NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL DEFAULT 0,
    lease_until BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX mail_outbox_due ON mail_outbox (status, next_at);

CREATE INDEX payments_paid_at ON payments (paid_at);
-- Refunds of a day are found through 0015's index on the payments' state (`state = 'refunded'`), not an index on
-- `refunded_at`: this migration must not hang on a column of another one, and refunds are few.
