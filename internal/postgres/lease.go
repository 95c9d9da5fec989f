package postgres

import (
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/polybot/polybot"
)

// Tenant leases (polybot.Lease). A claim locks the candidate tenants'
// profile rows FOR UPDATE SKIP LOCKED: the same row the risk gate locks
// (LockTenant), so a claim never interleaves with an intent being gated
// under the old lease, and two workers claiming at once take disjoint
// tenants without waiting for each other.

const leaseColumns = `tenant_id, worker, epoch, expires_at, claimed_at`

func scanLease(r pgx.Rows) (*polybot.Lease, error) {
	l := &polybot.Lease{}
	if err := r.Scan((*[16]byte)(&l.Tenant), &l.Worker, &l.Epoch, &l.ExpiresAt, &l.ClaimedAt); err != nil {
		return nil, err
	}
	l.ExpiresAt, l.ClaimedAt = l.ExpiresAt.UTC(), l.ClaimedAt.UTC()
	return l, nil
}

func (t *txn) leases(sql string, args ...any) ([]*polybot.Lease, error) {
	out := []*polybot.Lease{}
	_, err := t.query(sql, args, func(r pgx.Rows) error {
		l, err := scanLease(r)
		if err == nil {
			out = append(out, l)
		}
		return err
	})
	if err != nil {
		return nil, mapErr(err, "lease")
	}
	return out, nil
}

func (t *tenantTx) Lease() (*polybot.Lease, error) {
	ls, err := t.leases(`SELECT `+leaseColumns+` FROM polybot_tenant_leases WHERE tenant_id = $1`, uid(t.tenant))
	if err != nil {
		return nil, err
	}
	if len(ls) == 0 {
		return nil, polybot.Errorf(polybot.ENOTFOUND, "lease not found")
	}
	return ls[0], nil
}

func (t *adminTx) NextLapse(worker string) (time.Time, error) {
	if err := polybot.CheckLeaseClaim(worker, 0, polybot.MinLeaseTTL); err != nil {
		return time.Time{}, err
	}
	var at *time.Time
	if err := t.queryRow(`SELECT min(expires_at) FROM polybot_tenant_leases WHERE worker <> $1 AND expires_at > $2`,
		[]any{worker, t.now}, &at); err != nil {
		return time.Time{}, mapErr(err, "lease")
	}
	if at == nil {
		return time.Time{}, nil
	}
	return at.UTC(), nil
}

func (t *adminTx) Leases() ([]*polybot.Lease, error) {
	return t.leases(`SELECT ` + leaseColumns + ` FROM polybot_tenant_leases ORDER BY tenant_id`)
}

func (t *adminTx) LeasesAfter(after polybot.ID, limit int) ([]*polybot.Lease, error) {
	if limit <= 0 {
		return nil, polybot.FieldError("limit", "must be positive")
	}
	return t.leases(`SELECT `+leaseColumns+` FROM polybot_tenant_leases WHERE tenant_id > $1 ORDER BY tenant_id LIMIT $2`, after, limit)
}

func (t *adminTx) LeasesClaimedSince(since time.Time) ([]*polybot.Lease, error) {
	return t.leases(`SELECT `+leaseColumns+` FROM polybot_tenant_leases WHERE claimed_at >= $1 ORDER BY claimed_at, tenant_id`, since)
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

func (t *adminTx) LeaseHorizons() ([]polybot.LeaseHorizon, error) {
	out := []polybot.LeaseHorizon{}
	_, err := t.query(horizonsQuery, nil, func(r pgx.Rows) error {
		var h polybot.LeaseHorizon
		if err := r.Scan(&h.Worker, &h.ExpiresAt); err != nil {
			return err
		}
		h.ExpiresAt = h.ExpiresAt.UTC()
		out = append(out, h)
		return nil
	})
	if err != nil {
		return nil, mapErr(err, "lease")
	}
	return out, nil
}

// ClaimLeases renews worker's unexpired leases and claims, up to capacity
// in all, the tenants that want their bot running and have no live lease
// (never leased, lapsed or released), each at the next epoch.
func (t *adminTx) ClaimLeases(worker string, capacity int, ttl time.Duration) ([]*polybot.Lease, error) {
	if err := polybot.CheckLeaseClaim(worker, capacity, ttl); err != nil {
		return nil, err
	}
	now, until := t.now, t.now.Add(ttl)
	// A tenant whose bot was turned off (or whose account was disabled)
	// is not renewed: its lease ends now and its runner stops.
	if _, err := t.exec(`UPDATE polybot_tenant_leases l SET expires_at = $1
			FROM polybot_user_profiles p JOIN polybot_users u ON u.id = p.id
			WHERE l.tenant_id = p.id AND l.worker = $2 AND l.expires_at > $1 AND (NOT p.bot_enabled OR u.disabled)`, now, worker); err != nil {
		return nil, mapErr(err, "lease")
	}
	if _, err := t.exec(`UPDATE polybot_tenant_leases SET expires_at = $1 WHERE worker = $2 AND expires_at > $3`, until, worker, now); err != nil {
		return nil, mapErr(err, "lease")
	}
	var held int
	if err := t.queryRow(`SELECT count(*) FROM polybot_tenant_leases WHERE worker = $1 AND expires_at > $2`, []any{worker, now}, &held); err != nil {
		return nil, mapErr(err, "lease")
	}
	if free := capacity - held; free > 0 {
		_, err := t.exec(`WITH candidates AS (
				SELECT p.id FROM polybot_user_profiles p JOIN polybot_users u ON u.id = p.id
				LEFT JOIN polybot_tenant_leases l ON l.tenant_id = p.id
				WHERE NOT u.disabled AND p.bot_enabled AND (l.tenant_id IS NULL OR l.expires_at <= $3)
				ORDER BY p.id LIMIT $4
				FOR UPDATE OF p SKIP LOCKED)
			INSERT INTO polybot_tenant_leases (`+leaseColumns+`)
			SELECT id, $1, 1, $2, $3 FROM candidates
			ON CONFLICT (tenant_id) DO UPDATE SET worker = excluded.worker, epoch = polybot_tenant_leases.epoch + 1,
				expires_at = excluded.expires_at, claimed_at = excluded.claimed_at
			WHERE polybot_tenant_leases.expires_at <= $3`, worker, until, now, free)
		if err != nil {
			return nil, mapErr(err, "lease")
		}
	}
	return t.leases(`SELECT `+leaseColumns+` FROM polybot_tenant_leases WHERE worker = $1 AND expires_at > $2 ORDER BY tenant_id`, worker, now)
}

// ReleaseLeases ends worker's leases now (a shutdown): the rows stay, so
// the next claim takes the next epoch.
func (t *adminTx) ReleaseLeases(worker string) error {
	if err := polybot.CheckLeaseClaim(worker, 0, polybot.MinLeaseTTL); err != nil {
		return err
	}
	_, err := t.exec(`UPDATE polybot_tenant_leases SET expires_at = $1 WHERE worker = $2 AND expires_at > $1`, t.now, worker)
	return mapErr(err, "lease")
}
