-- Shoppable replay (ADR 0024): every pin and flash sale of a show, kept as it was at that moment (title and the
-- price then: a flash sale's deal price, a pin's list price), with the wall-clock time it happened. offset_ms is
-- its place in the recording, worked out from the replay's segment times when the replay is written (NULL until
-- then). live_sessions.replay_ms is the replay's length, kept so the replay API needs no playlist to answer.
CREATE TABLE live_moments (
    id           TEXT PRIMARY KEY,
    session_id   TEXT NOT NULL,
    kind         TEXT NOT NULL,
    product_id   TEXT NOT NULL,
    title        TEXT NOT NULL,
    price_minor  BIGINT NOT NULL,
    currency     TEXT NOT NULL,
    at           BIGINT NOT NULL,
    offset_ms    BIGINT NULL
);
CREATE INDEX ix_live_moments_session ON live_moments (session_id, at);
ALTER TABLE live_sessions ADD COLUMN replay_ms BIGINT NULL;
