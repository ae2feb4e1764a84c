-- The operator's lists at a million orders: a state tab newest first (`state IN (…) ORDER BY id DESC`) and the
-- review queue longest waiting first (`state = 'pending_review' ORDER BY updated_at, id`). `orders_project_state`
-- finds an operator's rows but not in list order, so every page sorted all of them (tens of thousands); these
-- walk one state in list order and stop after the page, checking the project of each row on the way.
CREATE INDEX orders_state_id ON orders (state, id);
CREATE INDEX orders_state_updated ON orders (state, updated_at, id);
