-- An order may name the live session it was bought from (a replay's product card, ADR 0024), so the session's
-- stats count it even when the buyer was not in the live room while the seller was on air.
ALTER TABLE orders ADD COLUMN session_id TEXT NULL;
