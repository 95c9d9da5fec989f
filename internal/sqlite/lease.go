package sqlite

import (
	"time"

	"github.com/polybot/polybot"
)

// Tenant leases (polybot.Lease). SQLite has one writer, so a claim is a
// plain read-then-write inside the write transaction; there is nothing to
// skip-lock.

const leaseCols = `tenant_id, worker, epoch, expires_at, claimed_at`

func scanLease(s scanner) (*polybot.Lease, error) {
	var l polybot.Lease
	if err := s.Scan(&l.Tenant, &l.Worker, &l.Epoch, timeCol{&l.ExpiresAt}, timeCol{&l.ClaimedAt}); err != nil {
		return nil, err
	}
	return &l, nil
}

func (t *tenantTx) Lease() (*polybot.Lease, error) {
	return one(t.tx, "lease", scanLease, `SELECT `+leaseCols+` FROM polybot_tenant_leases WHERE tenant_id = ?`, t.tenant)
}

func (a *adminTx) NextLapse(worker string) (time.Time, error) {
	if err := polybot.CheckLeaseClaim(worker, 0, polybot.MinLeaseTTL); err != nil {
		return time.Time{}, err
	}
	var at *int64
	if err := a.queryRow(`SELECT min(expires_at) FROM polybot_tenant_leases WHERE worker <> ? AND expires_at > ?`,
		worker, micros(a.now)).Scan(&at); err != nil {
		return time.Time{}, dbError(err, "lease")
	}
	if at == nil {
		return time.Time{}, nil
	}
	return time.UnixMicro(*at).UTC(), nil
}

func (a *adminTx) Leases() ([]*polybot.Lease, error) {
	return collect(a.tx, "lease", scanLease, `SELECT `+leaseCols+` FROM polybot_tenant_leases ORDER BY tenant_id`)
}

func (a *adminTx) LeasesAfter(after polybot.ID, limit int) ([]*polybot.Lease, error) {
	if limit <= 0 {
		return nil, polybot.FieldError("limit", "must be positive")
	}
	return collect(a.tx, "lease", scanLease, `SELECT `+leaseCols+` FROM polybot_tenant_leases WHERE tenant_id > ?
		ORDER BY tenant_id LIMIT ?`, after, limit)
}

func (a *adminTx) LeasesClaimedSince(since time.Time) ([]*polybot.Lease, error) {
	return collect(a.tx, "lease", scanLease, `SELECT `+leaseCols+` FROM polybot_tenant_leases WHERE claimed_at >= ?
		ORDER BY claimed_at, tenant_id`, micros(since))
}

// horizonsQuery is LeaseHorizons: a walk of the (worker, expires_at) index
// from one worker to the next, so that it reads a few index entries per
// worker instead of every lease (a GROUP BY over 100,000 leases, each
// second, held a gateway's core for 15 ms).
const horizonsQuery = `WITH RECURSIVE w(worker) AS (
		SELECT min(worker) FROM polybot_tenant_leases
		UNION ALL
		SELECT (SELECT min(l.worker) FROM polybot_tenant_leases l WHERE l.worker > w.worker) FROM w WHERE w.worker IS NOT NULL)
	SELECT worker, (SELECT max(l.expires_at) FROM polybot_tenant_leases l WHERE l.worker = w.worker) FROM w
	WHERE worker IS NOT NULL ORDER BY worker`

func (a *adminTx) LeaseHorizons() ([]polybot.LeaseHorizon, error) {
	hs, err := collect(a.tx, "lease", func(s scanner) (*polybot.LeaseHorizon, error) {
		var h polybot.LeaseHorizon
		err := s.Scan(&h.Worker, timeCol{&h.ExpiresAt})
		return &h, err
	}, horizonsQuery)
	if err != nil {
		return nil, err
	}
	out := make([]polybot.LeaseHorizon, len(hs))
	for i, h := range hs {
		out[i] = *h
	}
	return out, nil
}

// ClaimLeases renews worker's unexpired leases and claims, up to capacity
// in all, the tenants that want their bot running and have no live lease
// (never leased, lapsed or released), each at the next epoch.
func (a *adminTx) ClaimLeases(worker string, capacity int, ttl time.Duration) ([]*polybot.Lease, error) {
	if err := a.writable(); err != nil {
		return nil, err
	}
	if err := polybot.CheckLeaseClaim(worker, capacity, ttl); err != nil {
		return nil, err
	}
	now, until := micros(a.now), micros(a.now.Add(ttl))
	// A tenant whose bot was turned off (or whose account was disabled)
	// is not renewed: its lease ends now and its runner stops.
	if _, err := a.exec(`UPDATE polybot_tenant_leases SET expires_at = ? WHERE worker = ? AND expires_at > ? AND tenant_id IN
			(SELECT u.id FROM polybot_users u JOIN polybot_user_profiles p ON p.id = u.id WHERE u.disabled = 1 OR p.bot_enabled = 0)`,
		now, worker, now); err != nil {
		return nil, dbError(err, "lease")
	}
	if _, err := a.exec(`UPDATE polybot_tenant_leases SET expires_at = ? WHERE worker = ? AND expires_at > ?`, until, worker, now); err != nil {
		return nil, dbError(err, "lease")
	}
	var held int
	if err := a.queryRow(`SELECT count(*) FROM polybot_tenant_leases WHERE worker = ? AND expires_at > ?`, worker, now).Scan(&held); err != nil {
		return nil, dbError(err, "lease")
	}
	if free := capacity - held; free > 0 {
		rows, err := a.query(`SELECT u.id FROM polybot_users u JOIN polybot_user_profiles p ON p.id = u.id
			LEFT JOIN polybot_tenant_leases l ON l.tenant_id = u.id
			WHERE u.disabled = 0 AND p.bot_enabled = 1 AND (l.tenant_id IS NULL OR l.expires_at <= ?)
			ORDER BY u.id LIMIT ?`, now, free)
		if err != nil {
			return nil, dbError(err, "lease")
		}
		var ids []polybot.ID
		for rows.Next() {
			var id polybot.ID
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, dbError(err, "lease")
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, dbError(err, "lease")
		}
		for _, id := range ids {
			if _, err := a.exec(`INSERT INTO polybot_tenant_leases (`+leaseCols+`) VALUES (?, ?, 1, ?, ?)
				ON CONFLICT (tenant_id) DO UPDATE SET worker = excluded.worker, epoch = polybot_tenant_leases.epoch + 1,
					expires_at = excluded.expires_at, claimed_at = excluded.claimed_at
				WHERE polybot_tenant_leases.expires_at <= ?`, id, worker, until, now, now); err != nil {
				return nil, dbError(err, "lease")
			}
		}
	}
	return collect(a.tx, "lease", scanLease, `SELECT `+leaseCols+` FROM polybot_tenant_leases
		WHERE worker = ? AND expires_at > ? ORDER BY tenant_id`, worker, now)
}

// ReleaseLeases ends worker's leases now (a shutdown): the rows stay, so
// the next claim takes the next epoch.
func (a *adminTx) ReleaseLeases(worker string) error {
	if err := a.writable(); err != nil {
		return err
	}
	if err := polybot.CheckLeaseClaim(worker, 0, polybot.MinLeaseTTL); err != nil {
		return err
	}
	now := micros(a.now)
	_, err := a.exec(`UPDATE polybot_tenant_leases SET expires_at = ? WHERE worker = ? AND expires_at > ?`, now, worker, now)
	return dbError(err, "lease")
}
