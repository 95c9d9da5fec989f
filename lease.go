package polybot

import (
	"fmt"
	"strings"
	"time"
)

// Lease is a worker's claim on one tenant: while it holds an unexpired
// lease, that worker alone runs the tenant's bot. Epoch counts the
// tenant's leases: each new claim (after a lapse or a release) takes the
// next one. Every intent made under a lease carries its epoch
// (Intent.Epoch), and SubmitIntent refuses an intent whose epoch is not
// the tenant's current, unexpired lease, in the same transaction as the
// rest of the risk gate, so a worker that was paused or cut off past its
// lease can never place an order after another worker took the tenant.
//
// A single process (serve --role all) takes no leases: its intents carry
// epoch 0, which the gate does not check.
type Lease struct {
	Tenant    ID        `json:"tenant_id"`
	Worker    string    `json:"worker"`
	Epoch     int64     `json:"epoch"`
	ExpiresAt time.Time `json:"expires_at"`
	ClaimedAt time.Time `json:"claimed_at"`
}

// LeaseHorizon is when a worker's leases run out (the latest expiry of
// its leases): a worker that stopped renewing holds nothing after it.
type LeaseHorizon struct {
	Worker    string    `json:"worker"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Lease limits.
const (
	MaxWorkerID   = 128
	MinLeaseTTL   = time.Second
	MaxLeaseTTL   = 10 * time.Minute
	MaxLeaseClaim = 100_000
)

// RiskLease is the risk check that refuses an intent made under a lease
// that is no longer the tenant's current one.
const RiskLease = "lease"

// CheckLeaseClaim checks a worker's claim: a worker id, a capacity and a
// lease period within bounds. Complaints name the field.
func CheckLeaseClaim(worker string, capacity int, ttl time.Duration) error {
	v := Validation{}
	if strings.TrimSpace(worker) == "" {
		v.Add("worker", "is required")
	} else {
		v.checkText("worker", worker, MaxWorkerID)
	}
	if capacity < 0 || capacity > MaxLeaseClaim {
		v.Add("capacity", fmt.Sprintf("must be 0 to %d", MaxLeaseClaim))
	}
	if ttl < MinLeaseTTL || ttl > MaxLeaseTTL {
		v.Add("ttl", fmt.Sprintf("must be %s to %s", MinLeaseTTL, MaxLeaseTTL))
	}
	return v.Err()
}

// checkLease is the gate's lease check: an intent made under a lease
// (Epoch > 0) goes only while that lease is the tenant's current one and
// has not expired at now.
func checkLease(tx TenantTx, in *Intent, now time.Time) error {
	return CheckLease(tx, in.Epoch, now)
}

// CheckLease refuses (EFORBIDDEN, risk RiskLease) work done under lease
// epoch unless it is the tenant's current lease, unexpired at now; epoch 0
// (no lease: a single process) passes. A worker checks it, after
// TenantTx.LockTenant, in every transaction that writes for a tenant, so
// that a worker paused or cut off past its lease can never overwrite what
// the tenant's next holder recorded.
func CheckLease(tx TenantTx, epoch int64, now time.Time) error {
	if epoch == 0 {
		return nil
	}
	l, err := tx.Lease()
	if ErrorCode(err) == ENOTFOUND {
		return riskError(EFORBIDDEN, RiskLease, "This worker no longer holds the tenant's lease: nothing is sent.")
	}
	if err != nil {
		return err
	}
	if l.Epoch != epoch || !now.Before(l.ExpiresAt) {
		return riskError(EFORBIDDEN, RiskLease, fmt.Sprintf("Lease epoch %d is not the tenant's current lease (epoch %d, expires %s): nothing is sent.",
			epoch, l.Epoch, l.ExpiresAt.UTC().Format(time.RFC3339)))
	}
	return nil
}
