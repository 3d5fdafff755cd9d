-- Viewing events waiting for ClickHouse (ADR 0018). Written before they are sent, deleted once ClickHouse took
-- them; only used when Pasar:Analytics:ClickHouse:Url is set. payload is the event's JSONEachRow line.
-- A sink claims rows with a short lease (locked_by/locked_until), like the outbox, so several nodes can share it.
CREATE TABLE analytics_spool (
    id            $serial_pk$,
    event_id      TEXT NOT NULL,
    payload       TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    locked_by     TEXT NULL,
    locked_until  BIGINT NULL
);
CREATE INDEX ix_analytics_spool_lease ON analytics_spool (locked_until);
