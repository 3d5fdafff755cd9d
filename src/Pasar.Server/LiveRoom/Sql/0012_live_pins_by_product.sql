-- Social proof pushes to every room where a product is pinned.
CREATE INDEX ix_live_pins_product ON live_pins (product_id);
