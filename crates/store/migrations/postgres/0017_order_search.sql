-- The console's search: any part of 订单编号, 申办人, 企业, 统一社会信用代码 or 手机号 (see src/search.rs, which
-- writes the column on every insert and update; this fills it for the orders that exist). A trigram index serves
-- `LIKE '%…%'` on a million orders; pg_trgm is a trusted extension, so the migrating owner role may create it.
ALTER TABLE orders ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
UPDATE orders SET search_text = lower(
    order_no || E'\n' ||
    coalesce(body::json -> 'holder' ->> 'applicant_name', '') || E'\n' ||
    coalesce(body::json -> 'holder' ->> 'enterprise_name', '') || E'\n' ||
    coalesce(body::json -> 'holder' ->> 'credit_code', '') || E'\n' ||
    coalesce(body::json -> 'holder' ->> 'mobile', ''));
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX orders_search_trgm ON orders USING gin (search_text gin_trgm_ops);
CREATE INDEX orders_created_at ON orders (created_at);
