-- Purchases as social proof sees them: every number shown traces back to an order here.
CREATE TABLE proof_purchases (
    order_id    TEXT PRIMARY KEY,
    product_id  TEXT NOT NULL,
    buyer_id    TEXT NOT NULL,
    at          BIGINT NOT NULL
);
CREATE INDEX ix_proof_purchases_product ON proof_purchases (product_id, at);
