-- Append-only coin ledger. (source, reference) is unique, so a retried award is applied once.
CREATE TABLE coin_ledger (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL,
    amount         BIGINT NOT NULL,
    source         TEXT NOT NULL,
    reference      TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    balance_after  BIGINT NOT NULL,
    UNIQUE (source, reference)
);
CREATE INDEX ix_coin_ledger_user ON coin_ledger (user_id, created_at DESC, id DESC);

-- The balance per user; the CHECK is the last line of defence for "never negative".
CREATE TABLE coin_balances (
    user_id     TEXT PRIMARY KEY,
    balance     BIGINT NOT NULL CHECK (balance >= 0),
    updated_at  BIGINT NOT NULL
);

CREATE TABLE check_ins (
    user_id     TEXT NOT NULL,
    day         TEXT NOT NULL,
    streak_day  INTEGER NOT NULL,
    cycle_day   INTEGER NOT NULL,
    coins       BIGINT NOT NULL,
    bonus       INTEGER NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (user_id, day)
);
