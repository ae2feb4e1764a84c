-- 审核预检 (issue 10): the results of the machine's checks of a submitted order, kept so that a page view does not
-- re-run OCR. `submitted_version` is the order's version right after the submission the checks belong to: a
-- resubmission resets the row, and a late run for an earlier submission cannot overwrite it. `body` (a JSON
-- array of {check, outcome, detail}) is NULL until the checks have run.
CREATE TABLE order_prechecks (
    order_id BIGINT PRIMARY KEY REFERENCES orders(id),
    submitted_version BIGINT NOT NULL,
    body TEXT,
    checked_at TEXT
);

-- 二次审核 (issue 10, item 5): the seal kinds (comma-separated codes, e.g. `official_seal`) whose orders in this
-- project need a second reviewer's approval after the first; empty: one approval suffices.
ALTER TABLE projects ADD COLUMN second_approval_kinds TEXT NOT NULL DEFAULT '';

-- 在线客服 (issue 10, item 9): one message thread per order between its applicant and the operators.
CREATE TABLE order_messages (
    id BIGINT PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES orders(id),
    from_operator SMALLINT NOT NULL,
    author TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX order_messages_order ON order_messages (order_id, id);
