-- Finance (issue 11): invoices that can be voided and re-issued, and invoice e-mails.
--
-- An order keeps every invoice it was ever issued: a voided one (作废) stays with its reason and the time, and the
-- invoice issued in its place names it (`replaces`). Only one invoice per order is current (not voided), which the
-- partial unique index keeps true even when two finance operators re-issue at once. SQLite cannot drop the old
-- UNIQUE (order_id) constraint, so the table is rebuilt.
CREATE TABLE invoices_v2 (
    id BIGINT PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES orders(id),
    number TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    voided_at TEXT,
    void_reason TEXT,
    replaces BIGINT
);
INSERT INTO invoices_v2 (id, order_id, number, body, created_at)
    SELECT id, order_id, number, body, created_at FROM invoices;
DROP TABLE invoices;
ALTER TABLE invoices_v2 RENAME TO invoices;
CREATE UNIQUE INDEX invoices_current ON invoices (order_id) WHERE voided_at IS NULL;
CREATE INDEX invoices_created ON invoices (created_at);

-- The invoice e-mail, written in the same transaction as the invoice it carries (so an issued invoice is never
-- left unsent, and a rolled-back one never sent); a sender worker claims due rows with a lease, as for SMS.
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
