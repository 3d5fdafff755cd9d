-- Live vouchers (SPEC §15, ADR 0019). claimed only grows through a conditional update (claimed < quantity,
-- window open), and every claim owns one unit number and one per-user slot under unique constraints: SQL itself
-- never hands out more claims than the quantity or a user's limit, whatever happened to the gate in front of it.
CREATE TABLE vouchers (
    id               TEXT PRIMARY KEY,
    session_id       TEXT NOT NULL,
    seller_id        TEXT NOT NULL,
    discount_minor   BIGINT NOT NULL CHECK (discount_minor > 0),
    currency         TEXT NOT NULL,
    min_spend_minor  BIGINT NOT NULL CHECK (min_spend_minor >= 0),
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    claimed          INTEGER NOT NULL DEFAULT 0,
    per_user_limit   INTEGER NOT NULL CHECK (per_user_limit > 0),
    starts_at        BIGINT NOT NULL,
    ends_at          BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    CHECK (claimed <= quantity)
);
CREATE INDEX ix_vouchers_session ON vouchers (session_id, ends_at);

-- unit is the claim's number within the voucher (1..quantity), user_slot its number among the user's claims of
-- it (1..per_user_limit). used_order_id is set once, by a conditional update, when an order spends the claim.
CREATE TABLE voucher_claims (
    id             TEXT PRIMARY KEY,
    voucher_id     TEXT NOT NULL REFERENCES vouchers (id),
    user_id        TEXT NOT NULL,
    unit           INTEGER NOT NULL CHECK (unit > 0),
    user_slot      INTEGER NOT NULL CHECK (user_slot > 0),
    claimed_at     BIGINT NOT NULL,
    used_order_id  TEXT NULL,
    used_at        BIGINT NULL,
    discount_applied_minor BIGINT NULL,
    UNIQUE (voucher_id, unit),
    UNIQUE (voucher_id, user_id, user_slot)
);
CREATE INDEX ix_voucher_claims_user ON voucher_claims (user_id, used_order_id, claimed_at);
CREATE UNIQUE INDEX ux_voucher_claims_order ON voucher_claims (used_order_id) WHERE used_order_id IS NOT NULL;
