-- sold only grows through a conditional update (sold + q <= quantity, window open, still active): SQL itself
-- never oversells, whatever happened to the Redis/Garnet gate in front of it.
CREATE TABLE flash_sales (
    id                TEXT PRIMARY KEY,
    session_id        TEXT NOT NULL,
    seller_id         TEXT NOT NULL,
    product_id        TEXT NOT NULL,
    sale_price_minor  BIGINT NOT NULL,
    currency          TEXT NOT NULL,
    quantity          INTEGER NOT NULL CHECK (quantity > 0),
    sold              INTEGER NOT NULL DEFAULT 0,
    per_user_limit    INTEGER NOT NULL,
    starts_at         BIGINT NOT NULL,
    ends_at           BIGINT NOT NULL,
    status            TEXT NOT NULL,
    ended_at          BIGINT NULL,
    returned          INTEGER NULL,
    created_at        BIGINT NOT NULL,
    CHECK (sold <= quantity)
);
CREATE INDEX ix_flash_sales_session ON flash_sales (session_id, status);
CREATE INDEX ix_flash_sales_status ON flash_sales (status, ends_at);

-- Units each buyer took, capped by the sale's per-user limit in a conditional upsert.
CREATE TABLE flash_sale_buyers (
    sale_id   TEXT NOT NULL,
    buyer_id  TEXT NOT NULL,
    quantity  INTEGER NOT NULL,
    PRIMARY KEY (sale_id, buyer_id)
);
