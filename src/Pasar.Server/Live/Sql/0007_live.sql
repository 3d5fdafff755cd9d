CREATE TABLE live_sessions (
    id               TEXT PRIMARY KEY,
    seller_id        TEXT NOT NULL,
    title            TEXT NOT NULL,
    status           TEXT NOT NULL,
    stream_key_hash  TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    started_at       BIGINT NULL,
    ended_at         BIGINT NULL,
    end_reason       TEXT NULL,
    key_rotated_at   BIGINT NULL
);
CREATE UNIQUE INDEX ux_live_sessions_key ON live_sessions (stream_key_hash);
CREATE INDEX ix_live_sessions_status ON live_sessions (status, created_at DESC, id DESC);
CREATE INDEX ix_live_sessions_created ON live_sessions (created_at DESC, id DESC);
