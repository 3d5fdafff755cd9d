-- Old share clicks are pruned by age (Pasar:Retention:ShareClickDays).
CREATE INDEX ix_share_clicks_counted ON share_clicks (counted_at);
