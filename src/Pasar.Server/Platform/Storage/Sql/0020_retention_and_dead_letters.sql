-- An event whose delivery failed Pasar:Outbox:MaxAttempts times is dead-lettered: kept for an operator, never retried.
ALTER TABLE outbox ADD COLUMN dead_lettered_at BIGINT NULL;

-- The retention job deletes by age; these keep its DELETEs from scanning whole tables.
CREATE INDEX ix_outbox_deliveries_delivered ON outbox_deliveries (delivered_at);
CREATE INDEX ix_idempotency_keys_created ON idempotency_keys (created_at);
