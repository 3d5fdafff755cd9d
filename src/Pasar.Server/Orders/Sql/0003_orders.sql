CREATE TABLE orders (
    id                TEXT PRIMARY KEY,
    buyer_id          TEXT NOT NULL,
    product_id        TEXT NOT NULL REFERENCES products (id),
    seller_id         TEXT NOT NULL,
    quantity          INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_minor  BIGINT NOT NULL,
    coins_redeemed    BIGINT NOT NULL DEFAULT 0,
    total_minor       BIGINT NOT NULL,
    currency          TEXT NOT NULL,
    status            TEXT NOT NULL,
    flash_sale_id     TEXT NULL,
    ref               TEXT NULL,
    created_at        BIGINT NOT NULL
);
CREATE INDEX ix_orders_buyer ON orders (buyer_id, created_at DESC, id DESC);
CREATE INDEX ix_orders_product ON orders (product_id, created_at);
