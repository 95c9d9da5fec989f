-- The epoch of the tenant lease an intent was made under (polybot.Intent.Epoch;
-- 0: a single process, no lease). Kept so that after a failover each order can
-- be traced to the worker's lease it was sent under.
ALTER TABLE polybot_order_intents ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0;
