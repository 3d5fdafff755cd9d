CREATE TABLE follows (
    follower_id  TEXT NOT NULL,
    seller_id    TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (follower_id, seller_id)
);
-- Fan-out walks a seller's followers in follower_id order.
CREATE INDEX ix_follows_seller ON follows (seller_id, follower_id);

-- Exact follower counts, kept in the same transaction as the follow row; live state from Live events.
CREATE TABLE seller_stats (
    seller_id        TEXT PRIMARY KEY,
    followers        BIGINT NOT NULL DEFAULT 0 CHECK (followers >= 0),
    live_session_id  TEXT NULL
);

CREATE TABLE seller_activities (
    id             TEXT PRIMARY KEY,
    seller_id      TEXT NOT NULL,
    type           TEXT NOT NULL,
    product_id     TEXT NULL,
    session_id     TEXT NULL,
    flash_sale_id  TEXT NULL,
    created_at     BIGINT NOT NULL
);
-- The feed reads newest-first across all sellers and keeps the followed ones.
CREATE INDEX ix_activities_created ON seller_activities (created_at DESC, id DESC);
CREATE INDEX ix_activities_seller ON seller_activities (seller_id, created_at DESC, id DESC);

-- A background job that notifies every follower of a seller, batch by batch, resumable after a crash.
CREATE TABLE follower_fanouts (
    id            TEXT PRIMARY KEY,
    seller_id     TEXT NOT NULL,
    type          TEXT NOT NULL,
    title         TEXT NOT NULL,
    body          TEXT NOT NULL,
    data          TEXT NOT NULL,
    after_follower TEXT NOT NULL DEFAULT '',
    delivered     BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    locked_until  BIGINT NULL,
    done_at       BIGINT NULL
);

CREATE TABLE shares (
    tracking_code    TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL,
    product_id       TEXT NOT NULL,
    platform         TEXT NOT NULL,
    clicks           BIGINT NOT NULL DEFAULT 0,
    purchases        BIGINT NOT NULL DEFAULT 0,
    coins_earned     BIGINT NOT NULL DEFAULT 0,
    last_clicked_at  BIGINT NULL,
    created_at       BIGINT NOT NULL
);
CREATE INDEX ix_shares_user ON shares (user_id, created_at DESC, tracking_code DESC);

-- One counted click per visitor per code per 24 hours.
CREATE TABLE share_clicks (
    tracking_code  TEXT NOT NULL,
    visitor_id     TEXT NOT NULL,
    counted_at     BIGINT NOT NULL,
    PRIMARY KEY (tracking_code, visitor_id)
);
