-- Tenant leases (polybot.Lease): which worker runs a tenant's bot, under
-- which epoch, until when. A worker claims tenants up to its capacity
-- (FOR UPDATE SKIP LOCKED on the tenants' profile rows, the same row the
-- risk gate locks), renews its leases by heartbeat and releases them on
-- shutdown; a lease that is not renewed lapses at expires_at and the next
-- claim takes it with epoch + 1. Every intent made under a lease carries
-- its epoch, and the risk gate refuses one whose epoch is not the
-- tenant's current, unexpired lease, in the same transaction: a paused or
-- partitioned worker cannot place an order after losing its lease.
--
-- Privileges: polybot_service claims, renews and releases (the worker's
-- service path); polybot_tenant_app reads its own tenant's lease in the
-- gate's transaction; authenticated reads its own (which worker runs it).

CREATE TABLE polybot_tenant_leases (
	tenant_id uuid PRIMARY KEY REFERENCES polybot_users (id) ON DELETE CASCADE,
	worker text NOT NULL CHECK (length(worker) BETWEEN 1 AND 128),
	epoch bigint NOT NULL CHECK (epoch > 0),
	expires_at timestamptz NOT NULL,
	claimed_at timestamptz NOT NULL
);
CREATE INDEX polybot_tenant_leases_worker_idx ON polybot_tenant_leases (worker, expires_at);

ALTER TABLE polybot_tenant_leases ENABLE ROW LEVEL SECURITY;
ALTER TABLE polybot_tenant_leases FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_own ON polybot_tenant_leases FOR SELECT TO authenticated
	USING (tenant_id = (SELECT auth.uid()));
CREATE POLICY tenant_app_own ON polybot_tenant_leases FOR SELECT TO polybot_tenant_app
	USING (tenant_id = (SELECT auth.uid()));
CREATE POLICY service_all ON polybot_tenant_leases TO polybot_service USING (true) WITH CHECK (true);

REVOKE ALL ON polybot_tenant_leases FROM PUBLIC;
GRANT SELECT ON polybot_tenant_leases TO authenticated, polybot_tenant_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON polybot_tenant_leases TO polybot_service;
