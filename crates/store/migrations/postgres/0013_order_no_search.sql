-- Order-number search (an operator typing the beginning of 订单编号) is a byte range on order_no. The UNIQUE
-- index uses the database's collation, whose order is not byte order unless it is "C"; this one is.
CREATE INDEX orders_order_no_c ON orders (order_no COLLATE "C");
