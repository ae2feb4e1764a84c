-- The console's search: any part of 订单编号, 申办人, 企业, 统一社会信用代码 or 手机号 (see src/search.rs, which
-- writes the column on every insert and update; this fills it for the orders that exist).
ALTER TABLE orders ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
UPDATE orders SET search_text = lower(
    order_no || char(10) ||
    coalesce(json_extract(body, '$.holder.applicant_name'), '') || char(10) ||
    coalesce(json_extract(body, '$.holder.enterprise_name'), '') || char(10) ||
    coalesce(json_extract(body, '$.holder.credit_code'), '') || char(10) ||
    coalesce(json_extract(body, '$.holder.mobile'), ''));
CREATE INDEX orders_created_at ON orders (created_at);
