-- The 审核预检's duplicate check finds the holder's other orders by this column instead of a LIKE over every
-- order's search text (src/pii.rs `order_holder_index`): the HMAC-SM3 blind index of the holder key
-- (`enterprise:<credit code>` / `person:<ID number>`), never the number itself. A nullable column and an index
-- only: safe on a database that has rows, whichever other migrations it has. Rows written before stay NULL
-- until they are next changed or `sealdesk keys reencrypt` fills them (docs/deployment.md).
ALTER TABLE orders ADD COLUMN holder_index TEXT;
-- Equality on the key, newest first: the lookup reads its first rows from the index and stops.
CREATE INDEX orders_holder_index ON orders (holder_index, id);
