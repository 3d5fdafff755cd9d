-- Users are recorded the first time a valid token is seen for them; Pasar keeps no passwords.
CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Transactional outbox: events are written in the same transaction as the effect that caused them.
CREATE TABLE outbox (
    id              $serial_pk$,
    event_id        TEXT NOT NULL UNIQUE,
    type            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    locked_by       TEXT NULL,
    locked_until    BIGINT NULL,
    dispatched_at   BIGINT NULL,
    last_error      TEXT NULL
);
CREATE INDEX ix_outbox_pending ON outbox (dispatched_at, next_attempt_at);

-- One row per (event, handler) that has run: a redelivered event is skipped by the handlers it already reached.
CREATE TABLE outbox_deliveries (
    event_id      TEXT NOT NULL,
    handler       TEXT NOT NULL,
    delivered_at  BIGINT NOT NULL,
    PRIMARY KEY (event_id, handler)
);

-- Idempotency-Key records: the first response to a key is replayed for every retry with the same body.
CREATE TABLE idempotency_keys (
    user_id         TEXT NOT NULL,
    idem_key        TEXT NOT NULL,
    scope           TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    status_code     INTEGER NOT NULL,
    response_body   TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (user_id, idem_key)
);
