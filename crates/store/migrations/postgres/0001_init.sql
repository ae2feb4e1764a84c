-- SealDesk schema, PostgreSQL dialect. Keep in step with ../sqlite/0001_init.sql: same tables, columns and
-- meaning; only types and triggers differ. Times are RFC 3339 UTC text, money is integer fen, flags are SMALLINT
-- (sqlx's Any driver carries neither timestamps nor booleans portably).

CREATE TABLE operator_groups (
    id BIGINT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);

CREATE TABLE projects (
    id BIGINT PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    price_fen_per_seal_year BIGINT NOT NULL CHECK (price_fen_per_seal_year >= 0),
    group_id BIGINT REFERENCES operator_groups(id),
    created_at TEXT NOT NULL
);

CREATE TABLE operators (
    id BIGINT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    is_admin SMALLINT NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);

CREATE TABLE operator_group_members (
    group_id BIGINT NOT NULL REFERENCES operator_groups(id),
    operator_id BIGINT NOT NULL REFERENCES operators(id),
    PRIMARY KEY (group_id, operator_id)
);

CREATE TABLE applicants (
    id BIGINT PRIMARY KEY,
    mobile TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);

CREATE TABLE orders (
    id BIGINT PRIMARY KEY,
    order_no TEXT NOT NULL UNIQUE,
    project_id BIGINT NOT NULL REFERENCES projects(id),
    applicant_id BIGINT NOT NULL REFERENCES applicants(id),
    service TEXT NOT NULL,
    state TEXT NOT NULL,
    total_fen BIGINT NOT NULL,
    body TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX orders_applicant ON orders (applicant_id, id);
CREATE INDEX orders_project_state ON orders (project_id, state, id);

CREATE TABLE uploads (
    id BIGINT PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES orders(id),
    kind TEXT NOT NULL,
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    sm3 TEXT NOT NULL,
    blob_key TEXT NOT NULL,
    current SMALLINT NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);
CREATE INDEX uploads_order ON uploads (order_id, kind);

CREATE TABLE seals (
    id BIGINT PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES orders(id),
    seq INTEGER NOT NULL,
    es_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    der BYTEA NOT NULL,
    picture_png BYTEA NOT NULL,
    valid_start TEXT NOT NULL,
    valid_end TEXT NOT NULL,
    token_serial TEXT NOT NULL,
    revoked SMALLINT NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    UNIQUE (order_id, seq)
);
CREATE INDEX seals_token ON seals (token_serial);

CREATE TABLE payments (
    id BIGINT PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES orders(id),
    channel TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    state TEXT NOT NULL,
    gateway_txn TEXT,
    created_at TEXT NOT NULL,
    paid_at TEXT
);
CREATE INDEX payments_order ON payments (order_id);

CREATE TABLE invoices (
    id BIGINT PRIMARY KEY,
    order_id BIGINT NOT NULL UNIQUE REFERENCES orders(id),
    number TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    subject_id BIGINT NOT NULL,
    csrf TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE sms_codes (
    mobile TEXT PRIMARY KEY,
    code_hash TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL,
    sent_at BIGINT NOT NULL
);

CREATE TABLE sms_outbox (
    id BIGINT PRIMARY KEY,
    mobile TEXT NOT NULL,
    template TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX sms_outbox_mobile ON sms_outbox (mobile, id);

CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    ip TEXT NOT NULL,
    order_id BIGINT,
    action TEXT NOT NULL,
    before_state TEXT,
    after_state TEXT,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_order ON audit_log (order_id, seq);

-- The chain head: one row, updated first in every appending transaction so that appenders queue on its lock.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Append-only: the database itself refuses to change or remove an audit entry.
CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
