CREATE TABLE products (
    id            TEXT PRIMARY KEY,
    seller_id     TEXT NOT NULL,
    title         TEXT NOT NULL,
    description   TEXT NULL,
    price_minor   BIGINT NOT NULL,
    currency      TEXT NOT NULL,
    stock         INTEGER NOT NULL CHECK (stock >= 0),
    image_url     TEXT NULL,
    sold          BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX ix_products_seller ON products (seller_id, created_at DESC, id DESC);
CREATE INDEX ix_products_created ON products (created_at DESC, id DESC);
