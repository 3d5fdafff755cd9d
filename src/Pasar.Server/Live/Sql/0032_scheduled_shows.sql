-- Scheduled shows (SPEC §14). A session created with scheduledAt starts as 'scheduled'; its stream key works at
-- once, so first media turns it 'live' as for 'created'. 'cancelled' is final (owner, or expiry).
ALTER TABLE live_sessions ADD COLUMN scheduled_at BIGINT NULL;
CREATE INDEX ix_live_sessions_scheduled ON live_sessions (status, scheduled_at, id);

-- "Notify me": one row per subscriber of a show.
CREATE TABLE show_reminders (
    session_id  TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (session_id, user_id)
);

-- Notices owed to a show's subscribers: the reminder (due lead minutes before the start), the go-live, a
-- reschedule and a cancellation. A node claims a due notice under a short lease and delivers it a batch of
-- subscribers per transaction, moving after_user in the same commit; notification ids are the notice id plus
-- the user, so a batch repeated by another node or after a crash adds nothing twice (ADR 0015).
CREATE TABLE show_notices (
    id            TEXT PRIMARY KEY,
    session_id    TEXT NOT NULL,
    type          TEXT NOT NULL,
    title         TEXT NOT NULL,
    body          TEXT NOT NULL,
    data          TEXT NOT NULL,
    due_at        BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    after_user    TEXT NOT NULL DEFAULT '',
    delivered     BIGINT NOT NULL DEFAULT 0,
    locked_until  BIGINT NULL,
    done_at       BIGINT NULL,
    -- done without being delivered to the end: the show moved, was cancelled or went live first
    superseded_at BIGINT NULL
);
CREATE INDEX ix_show_notices_due ON show_notices (done_at, due_at);
CREATE INDEX ix_show_notices_session ON show_notices (session_id, type);
