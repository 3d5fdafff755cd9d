-- The succeeded keys of one scope (a flash sale's purchases), read once when the sale has ended, so that only a true
-- retry of a purchase reads its stored answer (FlashSaleService, ADR 0026).
CREATE INDEX idempotency_keys_scope ON idempotency_keys (scope, status_code);
