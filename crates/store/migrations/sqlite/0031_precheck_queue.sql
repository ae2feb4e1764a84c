-- 审核预检 as a queue (src/prechecks.rs): a submission leaves its row due (`body IS NULL`), and a worker of any
-- instance claims it for a while (`lease_until`, Unix seconds) before it runs the OCR. A worker that dies leaves a
-- lease that runs out, and another worker takes the row; an instance started with `--precheck-workers 0` leaves
-- the checks to instances that have workers (OCR off the request-serving machines).
ALTER TABLE order_prechecks ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
CREATE INDEX order_prechecks_due ON order_prechecks (lease_until, order_id) WHERE body IS NULL;
