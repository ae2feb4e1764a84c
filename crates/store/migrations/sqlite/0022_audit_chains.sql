-- The audit log at scale (issue 13, item 3): one chain per order and chain 0 for platform events, each with its
-- own head row, so that writers on different orders do not queue on one row. The entries written before this
-- migration stay the legacy chain (no chain_id), verified as before against the now frozen audit_head; every
-- per-order chain starts from audit_head's hash. (SQLite has one writer at a time: seq is the next number.)
ALTER TABLE audit_log ADD COLUMN chain_id BIGINT;
ALTER TABLE audit_log ADD COLUMN chain_seq BIGINT;
CREATE UNIQUE INDEX audit_chain_pos ON audit_log (chain_id, chain_seq);

CREATE TABLE audit_chains (
    chain_id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);

-- Signed lists of every chain's head (the seal maker's SM2 signature over `heads`, base64 DER).
CREATE TABLE audit_checkpoints (
    id BIGINT PRIMARY KEY,
    at TEXT NOT NULL,
    heads TEXT NOT NULL,
    signature TEXT NOT NULL
);
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoints is append-only');
END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoints is append-only');
END;
