-- The epoch of the tenant lease an intent was made under (polybot.Intent.Epoch;
-- 0: a single process, no lease). Kept so that after a failover each order can
-- be traced to the worker's lease it was sent under. Written on insert only:
-- the table-level INSERT grant of polybot_tenant_app (0004) covers it, and no
-- role may update it.
ALTER TABLE polybot_order_intents ADD COLUMN lease_epoch bigint NOT NULL DEFAULT 0 CHECK (lease_epoch >= 0);
