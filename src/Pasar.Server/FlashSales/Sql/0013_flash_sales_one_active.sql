-- "One active flash sale per session" as a constraint, not a check-then-insert: two starts in the same instant
-- (a double click, two nodes) both passed the check on PostgreSQL and carved the stock twice.
-- A partial unique index says it on both SQLite and PostgreSQL with the same SQL.

-- Sales started twice before this index existed: the later ones end now and give their unsold units back,
-- so the index can be built and no stock stays carved by a sale nobody sees.
UPDATE products SET stock = stock + (
    SELECT COALESCE(SUM(f.quantity - f.sold), 0) FROM flash_sales f
    WHERE f.product_id = products.id AND f.status = 'active'
      AND EXISTS (SELECT 1 FROM flash_sales g WHERE g.session_id = f.session_id AND g.status = 'active'
                  AND (g.created_at < f.created_at OR (g.created_at = f.created_at AND g.id < f.id))))
WHERE id IN (
    SELECT f.product_id FROM flash_sales f
    WHERE f.status = 'active'
      AND EXISTS (SELECT 1 FROM flash_sales g WHERE g.session_id = f.session_id AND g.status = 'active'
                  AND (g.created_at < f.created_at OR (g.created_at = f.created_at AND g.id < f.id))));

UPDATE flash_sales SET status = 'ended', ended_at = created_at, returned = quantity - sold
WHERE status = 'active'
  AND EXISTS (SELECT 1 FROM flash_sales g WHERE g.session_id = flash_sales.session_id AND g.status = 'active'
              AND (g.created_at < flash_sales.created_at OR (g.created_at = flash_sales.created_at AND g.id < flash_sales.id)));

CREATE UNIQUE INDEX ux_flash_sales_one_active ON flash_sales (session_id) WHERE status = 'active';
