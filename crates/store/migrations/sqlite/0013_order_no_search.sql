-- Order-number search is a byte range on order_no; SQLite's UNIQUE index on order_no (BINARY collation)
-- already serves it. This file keeps the two dialects' migration numbers in step.
SELECT 1;
