-- Live auctions (SPEC §15, ADR 0021). One unit of a product, sold to the highest bidder when the clock runs out.
-- highest_* only move through one conditional update (open, before the end, at least the start price or the
-- highest bid plus the increment, not the same bidder again), so SQL alone keeps the accepted bids strictly
-- increasing whatever happened to the gate in front of it. ends_at is the current end: a bid in the last
-- anti_snipe_seconds moves it. status: open -> sold (order_id set in the same commit) or unsold (unit returned).
CREATE TABLE auctions (
    id                   TEXT PRIMARY KEY,
    session_id           TEXT NOT NULL,
    seller_id            TEXT NOT NULL,
    product_id           TEXT NOT NULL,
    currency             TEXT NOT NULL,
    start_price_minor    BIGINT NOT NULL CHECK (start_price_minor > 0),
    increment_minor      BIGINT NOT NULL CHECK (increment_minor > 0),
    anti_snipe_seconds   INTEGER NOT NULL CHECK (anti_snipe_seconds >= 0),
    starts_at            BIGINT NOT NULL,
    ends_at              BIGINT NOT NULL,
    highest_bid_minor    BIGINT NULL,
    highest_bidder_id    TEXT NULL,
    highest_bidder_name  TEXT NULL,
    bids                 INTEGER NOT NULL DEFAULT 0,
    status               TEXT NOT NULL,
    order_id             TEXT NULL,
    closed_at            BIGINT NULL,
    created_at           BIGINT NOT NULL
);
CREATE INDEX ix_auctions_due ON auctions (status, ends_at);
-- One open auction per session, said as a constraint: two racing starts cannot both take a unit.
CREATE UNIQUE INDEX ux_auctions_one_open ON auctions (session_id) WHERE status = 'open';
-- An auction's order exists once.
CREATE UNIQUE INDEX ux_auctions_order ON auctions (order_id) WHERE order_id IS NOT NULL;
