-- The audit log at scale (issue 13, item 3): one chain per order and chain 0 for platform events, each with its
-- own head row, so that writers on different orders do not queue on one row. The entries written before this
-- migration stay the legacy chain (no chain_id), verified as before against the now frozen audit_head; every
-- per-order chain starts from audit_head's hash. Entries are numbered (seq) from a sequence, which never waits.
ALTER TABLE audit_log ADD COLUMN chain_id BIGINT;
ALTER TABLE audit_log ADD COLUMN chain_seq BIGINT;
CREATE UNIQUE INDEX audit_chain_pos ON audit_log (chain_id, chain_seq);

CREATE TABLE audit_chains (
    chain_id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);

CREATE SEQUENCE audit_seq;
SELECT setval('audit_seq', (SELECT seq FROM audit_head WHERE id = 1) + 1, false);

-- Signed lists of every chain's head (the seal maker's SM2 signature over `heads`, base64 DER).
CREATE TABLE audit_checkpoints (
    id BIGINT PRIMARY KEY,
    at TEXT NOT NULL,
    heads TEXT NOT NULL,
    signature TEXT NOT NULL
);
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
