CREATE TABLE chat_messages (
    id          TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    user_name   TEXT NOT NULL,
    text        TEXT NOT NULL,
    sent_at     BIGINT NOT NULL,
    deleted_at  BIGINT NULL
);
CREATE INDEX ix_chat_session ON chat_messages (session_id, sent_at DESC, id DESC);

CREATE TABLE chat_settings (
    session_id         TEXT PRIMARY KEY,
    slow_mode_seconds  INTEGER NOT NULL,
    blocked_words      TEXT NOT NULL,
    updated_at         BIGINT NOT NULL
);

CREATE TABLE chat_mutes (
    session_id  TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    until       BIGINT NOT NULL,
    muted_by    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (session_id, user_id)
);

CREATE TABLE live_pins (
    session_id  TEXT NOT NULL,
    product_id  TEXT NOT NULL,
    pinned_at   BIGINT NOT NULL,
    PRIMARY KEY (session_id, product_id)
);

-- One row per viewing (a viewer joining a session); heartbeats move last_seen_at.
CREATE TABLE live_views (
    id            TEXT PRIMARY KEY,
    session_id    TEXT NOT NULL,
    viewer_id     TEXT NOT NULL,
    user_id       TEXT NULL,
    started_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    ended_at      BIGINT NULL
);
CREATE INDEX ix_live_views_session ON live_views (session_id, viewer_id);
CREATE INDEX ix_live_views_user ON live_views (session_id, user_id);

CREATE TABLE live_viewer_samples (
    session_id  TEXT NOT NULL,
    at          BIGINT NOT NULL,
    viewers     BIGINT NOT NULL,
    PRIMARY KEY (session_id, at)
);

CREATE TABLE live_room_stats (
    session_id    TEXT PRIMARY KEY,
    peak_viewers  BIGINT NOT NULL
);

CREATE TABLE live_purchases (
    order_id      TEXT PRIMARY KEY,
    session_id    TEXT NOT NULL,
    buyer_id      TEXT NOT NULL,
    amount_minor  BIGINT NOT NULL,
    at            BIGINT NOT NULL
);
CREATE INDEX ix_live_purchases_session ON live_purchases (session_id);

-- Bumped by every pin change: the row lock serializes a session's pin changes on PostgreSQL.
CREATE TABLE live_pin_versions (
    session_id  TEXT PRIMARY KEY,
    version     BIGINT NOT NULL
);
