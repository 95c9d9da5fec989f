-- A gateway follows who holds which tenant by reading the leases claimed
-- since its last read (AdminTx.LeasesClaimedSince) and each worker's lease
-- horizon (AdminTx.LeaseHorizons: an index-only scan of the (worker,
-- expires_at) index), instead of every lease each second.
CREATE INDEX polybot_tenant_leases_claimed_idx ON polybot_tenant_leases (claimed_at);
