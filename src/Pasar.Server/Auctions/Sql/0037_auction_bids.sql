-- Every accepted bid, in the order SQL accepted it. UNIQUE (auction_id, amount_minor): two bids of the same
-- amount can never both be accepted, even if the gate and the conditional update in front of it were lost.
CREATE TABLE auction_bids (
    id            TEXT PRIMARY KEY,
    auction_id    TEXT NOT NULL REFERENCES auctions (id),
    bidder_id     TEXT NOT NULL,
    bidder_name   TEXT NOT NULL,
    amount_minor  BIGINT NOT NULL CHECK (amount_minor > 0),
    placed_at     BIGINT NOT NULL,
    UNIQUE (auction_id, amount_minor)
);
CREATE INDEX ix_auction_bids_bidder ON auction_bids (bidder_id, placed_at);
