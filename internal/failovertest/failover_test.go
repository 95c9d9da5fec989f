//go:build unix

package failovertest

import (
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/crashtest/simcheck"
)

// leaseTTL is the workers' --lease-ttl: short, so a takeover takes seconds.
const leaseTTL = 4 * time.Second

// takeoverWithin is how soon after a worker dies (or stops) its tenants
// must be leased by the survivor: one lease period (the dead worker's
// leases run out at most a ttl after the kill, and the survivor claims the
// moment they do: AdminTx.NextLapse) and two seconds of slack for the claim
// itself on a loaded two-core machine (CI runs the other packages meanwhile).
func takeoverWithin(ttl time.Duration) time.Duration { return ttl + 2*time.Second }

// TestFailoverKillsAWorkerMidExecution: see the package doc.
func TestFailoverKillsAWorkerMidExecution(t *testing.T) {
	const n = 200
	began := time.Now()
	c := newCluster(t, n, leaseTTL)
	d := c.deploy()
	gw, api, w1, w2, h1 := d.gateway, d.api, d.w1, d.w2, d.h1
	set1 := tenantSet(h1)

	// The kill: 0–20 ms after the simulators saw a new order of one of
	// w1's tenants, inside an execution (between its legs, or before its
	// outcome is recorded).
	late := time.Duration(mrand.IntN(20_000)) * time.Microsecond
	c.waitOrders(set1, c.subs().of(c, set1), 30*time.Second, "w1's tenants")
	time.Sleep(late)
	killed := time.Now()
	w1.Kill9()
	inflight := c.inflight(set1)
	t.Logf("SIGKILLed w1 %v after one of its tenants' orders reached a simulator; it left %d intents pending or unknown", late, inflight)

	// The takeover: every tenant w1 held is leased by w2 at a higher
	// epoch, within the bound.
	took := c.waitTakeover(h1, "w2", killed)
	med, worst := medianMax(took)
	t.Logf("w2 took all %d of w1's tenants: after the kill, median %v, max %v (bound %v)", len(took),
		med.Round(time.Millisecond), worst.Round(time.Millisecond), takeoverWithin(leaseTTL))

	// Trading on: every tenant w2 took makes intents under its new lease.
	time.Sleep(20 * time.Second)
	c.checkTradingUnderNewLeases(h1, "w2", killed)
	if h := held(c.leases(), "w2", time.Now()); len(h) != n {
		t.Errorf("w2 holds %d leases at the end, want all %d", len(h), n)
	}

	c.haltAndSettle(w2)
	for _, p := range []*simcheck.Proc{w2, gw, api} {
		p.Stop(t, 30*time.Second)
	}
	c.finalChecks()
	t.Logf("%v in all", time.Since(began).Round(time.Millisecond))
}

// TestSIGSTOPpedWorkerPastItsLeaseSendsNothing: see the package doc.
func TestSIGSTOPpedWorkerPastItsLeaseSendsNothing(t *testing.T) {
	const n = 20
	began := time.Now()
	c := newCluster(t, n, leaseTTL)
	d := c.deploy()
	gw, api, w1, w2, h1 := d.gateway, d.api, d.w1, d.w2, d.h1
	set1 := tenantSet(h1)

	// Pause w1 right after one of its tenants' orders reached a
	// simulator: it may be between the legs of an execution, with the
	// next leg's intent persisted under its lease.
	c.waitOrders(set1, c.subs().of(c, set1), 30*time.Second, "w1's tenants")
	w1.Signal(syscall.SIGSTOP)
	stopped := time.Now()
	t.Logf("SIGSTOPped w1 at %s; it left %d intents pending or unknown", stopped.Format("15:04:05.000"), c.inflight(set1))
	took := c.waitTakeover(h1, "w2", stopped)
	med, worst := medianMax(took)
	t.Logf("w2 took all %d of w1's tenants: median %v, max %v after the stop", len(took), med.Round(time.Millisecond), worst.Round(time.Millisecond))

	// Resume w1 well past its leases (and after w2 took its tenants).
	// From now on no order made under one of its leases may reach a venue.
	time.Sleep(time.Until(stopped.Add(c.ttl * 3 / 2)))
	before := c.subs()
	offset := logSize(w1)
	w1.Signal(syscall.SIGCONT)
	resumed := time.Now()
	letGo := map[string]string{} // tenant → why, from w1's "tenant let go" lines
	c.waitLog(w1, offset, func(l string) bool {
		if strings.Contains(l, `msg="tenant let go"`) {
			letGo[logValue(l, "tenant")] = logValue(l, "why")
		}
		return len(letGo) == len(h1)
	}, 10*time.Second, "that it let every tenant go")
	whys := map[string]int{}
	for id := range h1 {
		if why, ok := letGo[id.String()]; !ok {
			t.Errorf("w1 let tenant %d go without naming it", c.byID[id].n)
		} else {
			whys[why]++
		}
	}
	t.Logf("w1, resumed at %s, %v after its stop, let all %d tenants go within %v (%v)", resumed.Format("15:04:05.000"), resumed.Sub(stopped).Round(time.Millisecond),
		len(h1), time.Since(resumed).Round(time.Millisecond), whys)
	if h := held(c.leases(), "w1", time.Now()); len(h) != 0 {
		t.Errorf("w1 holds %d leases after it resumed, want none: w2 holds every tenant", len(h))
	}

	// Trade on for a while with w1 running (and leaseless), then stop.
	time.Sleep(10 * time.Second)
	c.checkTradingUnderNewLeases(h1, "w2", stopped)
	c.haltAndSettle(w2)
	for _, p := range []*simcheck.Proc{w1, w2, gw, api} {
		p.Stop(t, 30*time.Second)
	}

	// Every order that reached a venue after w1 resumed, by the intent it
	// carried: none was made under one of w1's leases.
	after := c.subs()
	s := c.storeState(false)
	oldEpoch := map[polybot.ID]int64{}
	for id, l := range h1 {
		oldEpoch[id] = l.Epoch
	}
	late, checked := 0, 0
	fromW1 := func(in *polybot.Intent, tn *tenant, what string, at time.Time) {
		checked++
		if in == nil || tn == nil {
			return // DuplicateSends reports an order that is no intent
		}
		if e, ok := oldEpoch[tn.id]; ok && in.Epoch <= e {
			late++
			t.Errorf("%s order %s of tenant %d, made under epoch %d (w1's lease was %d), reached the venue %v after w1 resumed past its lease "+
				"(it was stopped %v): leg %d of %s, made %v before the stop, now %s (%s)", what, in.ID, tn.n, in.Epoch, e,
				at.Sub(resumed).Round(time.Millisecond), resumed.Sub(stopped).Round(time.Millisecond), in.Leg, in.OpportunityID,
				stopped.Sub(in.CreatedAt).Round(time.Millisecond), in.State, in.Error)
		}
	}
	for _, k := range after.k[len(before.k):] {
		in, tn := c.kalshiIntent(s, k)
		fromW1(in, tn, "kalshi", k.Time)
	}
	for _, p := range after.p[len(before.p):] {
		in, tn := c.pmIntent(s, p)
		fromW1(in, tn, "polymarket", p.Time)
	}
	if late == 0 {
		t.Logf("none of the %d orders that reached the venues after w1 resumed was made under one of its leases", checked)
	}
	c.finalChecks()
	t.Logf("%v in all", time.Since(began).Round(time.Millisecond))
}

// deployment is the scale-out layout: the gateway (venues, detection,
// dispatch), the API, and two workers. w1 takes half the tenants (its
// capacity), then w2, able to run them all, takes the rest.
type deployment struct {
	gateway, api, w1, w2 *simcheck.Proc
	h1, h2               map[polybot.ID]*polybot.Lease // the leases each worker took
}

// deploy starts the deployment and waits until the tenants of both
// workers trade.
func (c *cluster) deploy() *deployment {
	c.t.Helper()
	began := time.Now()
	n := len(c.tenants)
	d := &deployment{gateway: c.start("gateway", "gateway"), api: c.start("api", "api")}
	d.w1 = c.startWorker("w1", n/2)
	d.h1 = c.waitHeld("w1", n/2, 30*time.Second)
	d.w2 = c.startWorker("w2", n)
	d.h2 = c.waitHeld("w2", n-n/2, 30*time.Second)
	set1, set2 := tenantSet(d.h1), tenantSet(d.h2)
	base := c.subs()
	c.waitOrders(set1, base.of(c, set1), 60*time.Second, "w1's tenants")
	c.waitOrders(set2, base.of(c, set2), 60*time.Second, "w2's tenants")
	c.t.Logf("w1 holds %d tenants, w2 %d; both trade, %v after the first process started", len(d.h1), len(d.h2),
		time.Since(began).Round(time.Millisecond))
	return d
}

// logValue is the value of key in a log/slog text line ("" if absent).
func logValue(line, key string) string {
	_, rest, ok := strings.Cut(line, " "+key+"=")
	if !ok {
		return ""
	}
	if strings.HasPrefix(rest, `"`) {
		if v, err := strconv.QuotedPrefix(rest); err == nil {
			v, _ = strconv.Unquote(v)
			return v
		}
	}
	v, _, _ := strings.Cut(rest, " ")
	return v
}

func tenantSet(ls map[polybot.ID]*polybot.Lease) map[polybot.ID]bool {
	out := map[polybot.ID]bool{}
	for id := range ls {
		out[id] = true
	}
	return out
}

// inflight counts the intents of the tenants in set left pending or
// unknown (sent or not, outcome not recorded).
func (c *cluster) inflight(set map[polybot.ID]bool) int {
	c.t.Helper()
	n := 0
	for _, in := range c.storeState(false).all {
		if set[in.UserID] && (in.State == polybot.IntentPending || in.State == polybot.IntentUnknown) {
			n++
		}
	}
	return n
}

// waitTakeover waits until worker holds every tenant of old at a higher
// epoch, within takeoverWithin of since, and returns how long after since
// each was claimed.
func (c *cluster) waitTakeover(old map[polybot.ID]*polybot.Lease, worker string, since time.Time) []time.Duration {
	c.t.Helper()
	deadline := since.Add(takeoverWithin(c.ttl))
	took := map[polybot.ID]time.Duration{}
	for {
		now := time.Now()
		ls := c.leases()
		for id, o := range old {
			if _, ok := took[id]; ok {
				continue
			}
			if l := ls[id]; l != nil && l.Worker == worker && l.Epoch > o.Epoch && now.Before(l.ExpiresAt) {
				took[id] = l.ClaimedAt.Sub(since)
			}
		}
		if len(took) == len(old) {
			break
		}
		if now.After(deadline) {
			var left []string
			for id, o := range old {
				if _, ok := took[id]; !ok {
					left = append(left, fmt.Sprintf("tenant %d (epoch %d, now %+v)", c.byID[id].n, o.Epoch, ls[id]))
				}
			}
			c.t.Fatalf("%v after the failure %s holds only %d of the %d tenants; not taken: %s; open transactions:%s", takeoverWithin(c.ttl), worker,
				len(took), len(old), strings.Join(left, "; "), c.openTransactions())
		}
		time.Sleep(50 * time.Millisecond)
	}
	out := make([]time.Duration, 0, len(took))
	for _, d := range took {
		out = append(out, d)
	}
	return out
}

// checkTradingUnderNewLeases: every tenant of old has made intents under
// the lease worker took (each decision is an intent, persisted before
// anything is sent, whether the gate or the venue then refuse it); it
// logs how soon after since the first came.
func (c *cluster) checkTradingUnderNewLeases(old map[polybot.ID]*polybot.Lease, worker string, since time.Time) {
	c.t.Helper()
	ls := c.leases()
	first := map[polybot.ID]time.Time{}
	for _, in := range c.storeState(false).all {
		l := ls[in.UserID]
		if old[in.UserID] == nil || l == nil || l.Worker != worker || in.Epoch != l.Epoch {
			continue
		}
		if f, ok := first[in.UserID]; !ok || in.CreatedAt.Before(f) {
			first[in.UserID] = in.CreatedAt
		}
	}
	var idle []string
	var after []time.Duration
	for id := range old {
		f, ok := first[id]
		if !ok {
			idle = append(idle, fmt.Sprint(c.byID[id].n))
			continue
		}
		after = append(after, f.Sub(since))
	}
	if len(idle) > 0 {
		c.t.Errorf("%d of the %d tenants %s took made no intent under its new lease: tenants %s", len(idle), len(old), worker, strings.Join(idle, ", "))
	}
	med, worst := medianMax(after)
	c.t.Logf("%d of %d taken tenants trade under their new lease; first intent after the failure: median %v, max %v",
		len(after), len(old), med.Round(time.Millisecond), worst.Round(time.Millisecond))
}
