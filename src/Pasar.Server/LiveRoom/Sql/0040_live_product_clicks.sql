-- Product clicks in a live room (SPEC §13), kept in SQL like views and chat so the SQL path's click-through is
-- the same as ClickHouse's for the same events, and the backfill can copy them. One row per counted click (the
-- hub ignores more than a few a second per viewer before it gets here).
CREATE TABLE live_product_clicks (
    id          TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL,
    viewer_id   TEXT NOT NULL,
    user_id     TEXT NULL,
    product_id  TEXT NOT NULL,
    at          BIGINT NOT NULL
);
CREATE INDEX ix_live_product_clicks_session ON live_product_clicks (session_id, at);
