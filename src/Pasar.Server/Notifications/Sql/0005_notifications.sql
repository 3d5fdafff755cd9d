CREATE TABLE notifications (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    type        TEXT NOT NULL,
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    data        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    read_at     BIGINT NULL
);
CREATE INDEX ix_notifications_user ON notifications (user_id, created_at DESC, id DESC);
