-- A poll in a live session. "One open poll per session" is a partial unique index, so two starts in the same
-- instant (a double click, two nodes) cannot both open one. total_votes only grows through a conditional update
-- (status open, before ends_at) that also orders every vote after or before the close, never beside it.
CREATE TABLE polls (
    id           TEXT PRIMARY KEY,
    session_id   TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    question     TEXT NOT NULL,
    options      TEXT NOT NULL,
    total_votes  INTEGER NOT NULL DEFAULT 0,
    status       TEXT NOT NULL,
    starts_at    BIGINT NOT NULL,
    ends_at      BIGINT NOT NULL,
    closed_at    BIGINT NULL
);
CREATE UNIQUE INDEX ux_polls_one_open ON polls (session_id) WHERE status = 'open';
CREATE INDEX ix_polls_status ON polls (status, ends_at);
CREATE INDEX ix_polls_session ON polls (session_id, starts_at);

-- One vote per user per poll: the primary key is the truth, on every node.
CREATE TABLE poll_votes (
    poll_id     TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    option_ix   INTEGER NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (poll_id, user_id)
);
CREATE INDEX ix_poll_votes_option ON poll_votes (poll_id, option_ix);
