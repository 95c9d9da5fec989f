-- Tenant leases (polybot.Lease): which worker runs a tenant's bot, under
-- which epoch, until when (see the PostgreSQL migration 0010 for the
-- protocol). A single process (serve --role all) takes no lease; the table
-- lets the store pass the same conformance suite. Timestamps are INTEGER
-- microseconds (UTC).
CREATE TABLE polybot_tenant_leases (
    tenant_id  TEXT PRIMARY KEY REFERENCES polybot_users (id) ON DELETE CASCADE,
    worker     TEXT NOT NULL CHECK (length(worker) BETWEEN 1 AND 128),
    epoch      INTEGER NOT NULL CHECK (epoch > 0),
    expires_at INTEGER NOT NULL,
    claimed_at INTEGER NOT NULL
) STRICT;
CREATE INDEX polybot_tenant_leases_worker_idx ON polybot_tenant_leases (worker, expires_at);
