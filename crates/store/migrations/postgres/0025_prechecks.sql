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
