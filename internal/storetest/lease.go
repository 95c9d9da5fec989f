package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

// testLeases checks tenant leases: disjoint claims up to capacity,
// renewal, a lapse taken over at the next epoch, release, and the risk
// gate's fence refusing an intent made under a lease that is not the
// tenant's current one.
func testLeases(t *testing.T, open Opener) {
	const ttl = 10 * time.Second
	claim := func(e *env, worker string, capacity int) []*polybot.Lease {
		e.t.Helper()
		var ls []*polybot.Lease
		e.mustAdmin(func(tx polybot.AdminTx) (err error) { ls, err = tx.ClaimLeases(worker, capacity, ttl); return })
		return ls
	}
	tenants := func(ls []*polybot.Lease) []polybot.ID {
		out := make([]polybot.ID, len(ls))
		for i, l := range ls {
			out[i] = l.Tenant
		}
		return out
	}
	setup := func(t *testing.T, n int) (*env, []polybot.ID) {
		e := newEnv(t, open)
		var ids []polybot.ID
		for i := range n {
			u := e.newUser(fmt.Sprintf("lease-%d@example.com", i))
			e.mustAdmin(func(tx polybot.AdminTx) error { return tx.SetUserBotEnabled(u.ID, true) })
			ids = append(ids, u.ID)
		}
		return e, ids
	}

	t.Run("two workers claim disjoint tenants up to capacity; renewal keeps the epoch", func(t *testing.T) {
		e, ids := setup(t, 5)
		off := e.newUser("off@example.com")
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.SetUserBotEnabled(off.ID, false) })
		a := claim(e, "worker-a", 3)
		b := claim(e, "worker-b", 3)
		if len(a) != 3 || len(b) != 2 {
			t.Fatalf("claims: a %d, b %d, want 3 and 2", len(a), len(b))
		}
		all := append(tenants(a), tenants(b)...)
		for _, id := range ids {
			if !slices.Contains(all, id) {
				t.Errorf("tenant %s claimed by nobody", id)
			}
		}
		if slices.Contains(all, off.ID) {
			t.Error("a tenant whose bot is off was claimed")
		}
		for _, l := range append(a, b...) {
			if l.Epoch != 1 || !l.ExpiresAt.Equal(T0.Add(ttl)) {
				t.Errorf("lease %+v: want epoch 1, expiring at T0+ttl", l)
			}
		}
		e.clock.Advance(ttl / 2)
		again := claim(e, "worker-a", 3)
		if !slices.Equal(tenants(again), tenants(a)) {
			t.Fatalf("renewal changed worker-a's tenants: %v, had %v", tenants(again), tenants(a))
		}
		for _, l := range again {
			if l.Epoch != 1 || !l.ExpiresAt.Equal(T0.Add(ttl/2+ttl)) {
				t.Errorf("renewed lease %+v: want epoch 1, expiring ttl after the renewal", l)
			}
		}
	})

	t.Run("a lapsed lease is taken at the next epoch and the old epoch is fenced off", func(t *testing.T) {
		e, ids := setup(t, 2)
		a := claim(e, "worker-a", 10)
		if len(a) != 2 {
			t.Fatalf("worker-a holds %d leases, want 2", len(a))
		}
		id := ids[0]
		old := a[slices.IndexFunc(a, func(l *polybot.Lease) bool { return l.Tenant == id })].Epoch
		in := func(n int, epoch int64) *polybot.Intent {
			x := newIntent(polybot.IntentID(id, fmt.Sprintf("opp-lease-%d", n), 0, 0), kalshiYes("K-LEASE"))
			x.Epoch = epoch
			return x
		}
		submit := func(x *polybot.Intent) error {
			return e.tenant(id, func(tx polybot.TenantTx) error { return polybot.SubmitIntent(tx, x, nil) })
		}
		first := in(1, old)
		if err := submit(first); err != nil {
			t.Fatalf("an intent under the live lease: %v", err)
		}
		var back *polybot.Intent
		e.mustTenantView(id, func(tx polybot.TenantTx) (err error) { back, err = tx.Intent(first.ID); return })
		if back.Epoch != old {
			t.Fatalf("the stored intent's epoch = %d, want the lease's %d", back.Epoch, old)
		}
		if b := claim(e, "worker-b", 10); len(b) != 0 {
			t.Fatalf("worker-b took %d live leases", len(b))
		}
		// worker-a stops renewing (paused, partitioned): its lease lapses.
		e.clock.Advance(ttl)
		err := submit(in(2, old))
		wantCode(t, err, polybot.EFORBIDDEN, "an intent under a lapsed lease")
		if polybot.RiskReason(err) != polybot.RiskLease {
			t.Fatalf("refusal reason %q, want %q", polybot.RiskReason(err), polybot.RiskLease)
		}
		b := claim(e, "worker-b", 10)
		if len(b) != 2 || b[0].Worker != "worker-b" || b[0].Epoch != old+1 {
			t.Fatalf("worker-b's claim after the lapse = %+v, want both tenants at epoch %d", b, old+1)
		}
		// worker-a wakes up: its old epoch is refused, reducing or not.
		reduce := in(3, old)
		reduce.Side, reduce.Reduce = polybot.Sell, true
		for _, x := range []*polybot.Intent{in(4, old), reduce} {
			if err := submit(x); polybot.RiskReason(err) != polybot.RiskLease {
				t.Fatalf("the old worker's intent (reduce %v) after the takeover: %v, want a lease refusal", x.Reduce, err)
			}
		}
		if again := claim(e, "worker-a", 10); len(again) != 0 {
			t.Fatalf("worker-a re-claimed %d leases worker-b holds", len(again))
		}
		if err := submit(in(5, old+1)); err != nil {
			t.Fatalf("an intent under worker-b's lease: %v", err)
		}
		var l *polybot.Lease
		e.mustTenantView(id, func(tx polybot.TenantTx) (err error) { l, err = tx.Lease(); return })
		if l.Worker != "worker-b" || l.Epoch != old+1 {
			t.Fatalf("the tenant's lease = %+v", l)
		}
	})

	t.Run("a tenant whose bot is turned off or whose account is disabled is not renewed", func(t *testing.T) {
		e, ids := setup(t, 3)
		if a := claim(e, "worker-a", 10); len(a) != 3 {
			t.Fatalf("claimed %d, want 3", len(a))
		}
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.SetUserBotEnabled(ids[0], false) })
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.SetUserDisabled(ids[1], true) })
		e.clock.Advance(time.Second)
		again := claim(e, "worker-a", 10)
		if !slices.Equal(tenants(again), []polybot.ID{ids[2]}) {
			t.Fatalf("renewed %v, want only %v", tenants(again), ids[2])
		}
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.SetUserBotEnabled(ids[0], true) })
		b := claim(e, "worker-b", 10)
		if len(b) != 1 || b[0].Tenant != ids[0] || b[0].Epoch != 2 {
			t.Fatalf("after the bot was turned on again worker-b claimed %+v, want %s at epoch 2", b, ids[0])
		}
	})

	t.Run("NextLapse is when another worker's soonest live lease runs out", func(t *testing.T) {
		e, _ := setup(t, 2)
		next := func(worker string) time.Time {
			var at time.Time
			e.mustAdminView(func(tx polybot.AdminTx) (err error) { at, err = tx.NextLapse(worker); return })
			return at
		}
		if at := next("worker-b"); !at.IsZero() {
			t.Fatalf("no lease yet: NextLapse = %v", at)
		}
		claim(e, "worker-a", 1)
		e.clock.Advance(time.Second)
		claim(e, "worker-c", 1)
		if at := next("worker-b"); !at.Equal(T0.Add(ttl)) {
			t.Fatalf("NextLapse = %v, want worker-a's expiry %v", at, T0.Add(ttl))
		}
		if at := next("worker-a"); !at.Equal(T0.Add(time.Second + ttl)) {
			t.Fatalf("NextLapse for worker-a = %v, want worker-c's expiry", at)
		}
		e.clock.Advance(ttl)
		if at := next("worker-b"); !at.IsZero() {
			t.Fatalf("every lease lapsed: NextLapse = %v", at)
		}
		e.mustAdminView(func(tx polybot.AdminTx) error {
			_, err := tx.NextLapse("")
			wantCode(t, err, polybot.EINVALID, "an empty worker")
			return nil
		})
	})

	t.Run("LeasesClaimedSince lists new claims only; LeaseHorizons is each worker's latest expiry", func(t *testing.T) {
		e, ids := setup(t, 3)
		since := func(at time.Time) []*polybot.Lease {
			var ls []*polybot.Lease
			e.mustAdminView(func(tx polybot.AdminTx) (err error) { ls, err = tx.LeasesClaimedSince(at); return })
			return ls
		}
		horizons := func() []polybot.LeaseHorizon {
			var hs []polybot.LeaseHorizon
			e.mustAdminView(func(tx polybot.AdminTx) (err error) { hs, err = tx.LeaseHorizons(); return })
			return hs
		}
		if ls, hs := since(time.Time{}), horizons(); len(ls) != 0 || len(hs) != 0 {
			t.Fatalf("no lease yet: %d claimed, %d horizons", len(ls), len(hs))
		}
		claim(e, "worker-a", 2)
		e.clock.Advance(time.Second)
		claim(e, "worker-b", 2) // the third tenant
		if ls := since(time.Time{}); len(ls) != 3 || ls[2].Worker != "worker-b" {
			t.Fatalf("every claim: %+v, want 3, worker-b's last", ls)
		}
		if ls := since(T0.Add(time.Second)); len(ls) != 1 || ls[0].Worker != "worker-b" || ls[0].Epoch != 1 {
			t.Fatalf("claims since worker-b's: %+v", ls)
		}
		// A renewal is not a claim: nothing new; the horizon moves.
		e.clock.Advance(time.Second)
		claim(e, "worker-a", 2)
		if ls := since(T0.Add(2 * time.Second)); len(ls) != 0 {
			t.Fatalf("a renewal listed as a claim: %+v", ls)
		}
		want := []polybot.LeaseHorizon{{Worker: "worker-a", ExpiresAt: T0.Add(2*time.Second + ttl)}, {Worker: "worker-b", ExpiresAt: T0.Add(time.Second + ttl)}}
		if hs := horizons(); len(hs) != 2 || hs[0].Worker != want[0].Worker || !hs[0].ExpiresAt.Equal(want[0].ExpiresAt) ||
			hs[1].Worker != want[1].Worker || !hs[1].ExpiresAt.Equal(want[1].ExpiresAt) {
			t.Fatalf("horizons %+v, want %+v", hs, want)
		}
		// worker-b releases; worker-a takes its tenant: a claim at the
		// next epoch, listed; worker-b's horizon is its release.
		e.clock.Advance(time.Second)
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.ReleaseLeases("worker-b") })
		claim(e, "worker-a", 3)
		ls := since(T0.Add(3 * time.Second))
		if len(ls) != 1 || ls[0].Worker != "worker-a" || ls[0].Epoch != 2 || !slices.Contains(ids, ls[0].Tenant) {
			t.Fatalf("after the takeover: %+v, want worker-a's claim at epoch 2", ls)
		}
		if hs := horizons(); len(hs) != 1 || hs[0].Worker != "worker-a" {
			t.Fatalf("horizons after the takeover %+v: worker-b holds no lease row", hs)
		}
	})

	t.Run("release ends the leases now; the next claim takes the next epoch", func(t *testing.T) {
		e, _ := setup(t, 2)
		a := claim(e, "worker-a", 10)
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.ReleaseLeases("worker-a") })
		b := claim(e, "worker-b", 10)
		if len(b) != len(a) || b[0].Epoch != 2 {
			t.Fatalf("after release worker-b claimed %+v, want %d leases at epoch 2", b, len(a))
		}
		var all []*polybot.Lease
		e.mustAdminView(func(tx polybot.AdminTx) (err error) { all, err = tx.Leases(); return })
		if len(all) != 2 {
			t.Fatalf("Leases() = %d rows, want 2", len(all))
		}
	})

	t.Run("leases page through in tenant order", func(t *testing.T) {
		e, _ := setup(t, 5)
		claim(e, "worker-a", 3)
		claim(e, "worker-b", 10)
		var all []*polybot.Lease
		e.mustAdminView(func(tx polybot.AdminTx) (err error) { all, err = tx.Leases(); return })
		if len(all) != 5 {
			t.Fatalf("Leases() = %d rows, want 5", len(all))
		}
		var paged []*polybot.Lease
		after := polybot.NilID
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatal("paging did not end")
			}
			var page []*polybot.Lease
			e.mustAdminView(func(tx polybot.AdminTx) (err error) { page, err = tx.LeasesAfter(after, 2); return })
			if len(page) > 2 {
				t.Fatalf("a page of 2 held %d leases", len(page))
			}
			if len(page) == 0 {
				break
			}
			paged = append(paged, page...)
			after = page[len(page)-1].Tenant
		}
		if len(paged) != len(all) {
			t.Fatalf("paged %d leases, want %d", len(paged), len(all))
		}
		for i := range all {
			if *paged[i] != *all[i] {
				t.Errorf("page row %d = %+v, want %+v", i, paged[i], all[i])
			}
		}
		e.mustAdminView(func(tx polybot.AdminTx) error {
			if _, err := tx.LeasesAfter(polybot.NilID, 0); polybot.ErrorCode(err) != polybot.EINVALID {
				t.Errorf("a page of 0: %v, want %s", err, polybot.EINVALID)
			}
			return nil
		})
	})

	t.Run("concurrent claims never share a tenant", func(t *testing.T) {
		e, ids := setup(t, 12)
		var mu sync.Mutex
		owner := map[polybot.ID]string{}
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := fmt.Sprintf("worker-%d", w)
				var ls []*polybot.Lease
				if err := e.admin(func(tx polybot.AdminTx) (err error) { ls, err = tx.ClaimLeases(name, 4, ttl); return }); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				defer mu.Unlock()
				for _, l := range ls {
					if prev, dup := owner[l.Tenant]; dup {
						errs <- fmt.Errorf("tenant %s claimed by %s and %s", l.Tenant, prev, name)
					}
					owner[l.Tenant] = name
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if len(owner) != len(ids) {
			t.Fatalf("%d of %d tenants claimed by 4 workers of capacity 4", len(owner), len(ids))
		}
	})

	t.Run("a bad claim names its field", func(t *testing.T) {
		e := newEnv(t, open)
		for _, c := range []struct {
			worker   string
			capacity int
			ttl      time.Duration
			field    string
		}{{"", 1, ttl, "worker"}, {"w", -1, ttl, "capacity"}, {"w", 1, time.Millisecond, "ttl"}, {"w\x00", 1, ttl, "worker"}} {
			err := e.admin(func(tx polybot.AdminTx) error { _, err := tx.ClaimLeases(c.worker, c.capacity, c.ttl); return err })
			wantCode(t, err, polybot.EINVALID, "ClaimLeases "+c.field)
			if _, ok := polybot.ErrorFields(err)[c.field]; !ok {
				t.Errorf("ClaimLeases(%q, %d, %s): fields %v, want %q", c.worker, c.capacity, c.ttl, polybot.ErrorFields(err), c.field)
			}
		}
	})
}
