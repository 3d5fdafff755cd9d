-- A coin giveaway in a live session. The seed's hash is public from the start; the seed itself lives in its own
-- table that only the draw reads (GET reveals it from the giveaway row once status is 'drawn').
CREATE TABLE giveaways (
    id            TEXT PRIMARY KEY,
    session_id    TEXT NOT NULL,
    seller_id     TEXT NOT NULL,
    prize_coins   BIGINT NOT NULL CHECK (prize_coins > 0),
    winner_count  INTEGER NOT NULL CHECK (winner_count > 0),
    seed_hash     TEXT NOT NULL,
    revealed_seed TEXT NULL,
    entrants      INTEGER NOT NULL DEFAULT 0,
    winner_ids    TEXT NULL,
    returned      BIGINT NULL,
    status        TEXT NOT NULL,
    starts_at     BIGINT NOT NULL,
    ends_at       BIGINT NOT NULL,
    drawn_at      BIGINT NULL
);
CREATE UNIQUE INDEX ux_giveaways_one_active ON giveaways (session_id) WHERE status = 'active';
CREATE INDEX ix_giveaways_status ON giveaways (status, ends_at);
CREATE INDEX ix_giveaways_session ON giveaways (session_id, starts_at);

-- The committed secret: written with the giveaway in one transaction, read only by the draw.
CREATE TABLE giveaway_seeds (
    giveaway_id  TEXT PRIMARY KEY,
    seed         TEXT NOT NULL
);

CREATE TABLE giveaway_entries (
    giveaway_id  TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    entered_at   BIGINT NOT NULL,
    PRIMARY KEY (giveaway_id, user_id)
);
