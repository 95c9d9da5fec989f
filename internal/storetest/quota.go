package storetest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

func testQuota(t *testing.T, open Opener) {
	t.Run("IncrementTrades counts up to the monthly limit, then refuses with EQUOTA and counts nothing", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("q@example.com")
		month := polybot.QuotaMonth(T0)
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			for i := 1; i <= 100; i++ {
				q, err := tx.IncrementTrades()
				if err != nil {
					t.Fatalf("IncrementTrades #%d: %v", i, err)
				}
				if q != (polybot.Quota{Month: month, Used: i, Limit: 100}) {
					t.Fatalf("IncrementTrades #%d = %+v", i, q)
				}
			}
			return nil
		})
		err := e.tenant(u.ID, func(tx polybot.TenantTx) error {
			_, err := tx.IncrementTrades()
			wantCode(t, err, polybot.EQUOTA, "IncrementTrades #101")
			_, err = tx.IncrementTrades()
			wantCode(t, err, polybot.EQUOTA, "IncrementTrades #102")
			return nil
		})
		if err != nil {
			t.Fatalf("Tenant: %v", err)
		}
		if p := e.profile(u.ID); p.TradesThisMonth != 100 || p.QuotaMonth != month || p.TradesUsed(T0) != 100 {
			t.Fatalf("profile counter = %d in %s, want 100 in %s", p.TradesThisMonth, p.QuotaMonth, month)
		}
	})

	t.Run("ReleaseTrade gives one trade back", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("q@example.com")
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			for range 100 {
				if _, err := tx.IncrementTrades(); err != nil {
					return err
				}
			}
			return nil
		})
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			q, err := tx.ReleaseTrade()
			if err != nil || q.Used != 99 || q.Limit != 100 {
				t.Fatalf("ReleaseTrade = %+v, %v; want 99 of 100", q, err)
			}
			q, err = tx.IncrementTrades()
			if err != nil || q.Used != 100 {
				t.Fatalf("IncrementTrades after release = %+v, %v; want 100", q, err)
			}
			_, err = tx.IncrementTrades()
			wantCode(t, err, polybot.EQUOTA, "IncrementTrades past the limit again")
			return nil
		})
	})

	t.Run("a new UTC month starts the counter at zero", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("q@example.com")
		e.clock.Set(time.Date(2030, time.January, 31, 23, 59, 59, 999999000, time.UTC))
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			for range 100 {
				if _, err := tx.IncrementTrades(); err != nil {
					return err
				}
			}
			return nil
		})
		err := e.tenant(u.ID, func(tx polybot.TenantTx) error { _, err := tx.IncrementTrades(); return err })
		wantCode(t, err, polybot.EQUOTA, "IncrementTrades at the end of January")

		// 2030-02-28 21:00 in New York is already March in UTC.
		est := time.FixedZone("EST", -5*3600)
		for _, step := range []struct {
			now   time.Time
			month string
		}{
			{time.Date(2030, time.February, 1, 0, 0, 0, 0, time.UTC), "2030-02"},
			{time.Date(2030, time.February, 28, 21, 0, 0, 0, est), "2030-03"},
		} {
			e.clock.Set(step.now)
			e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
				p, err := tx.Profile()
				if err != nil {
					t.Fatalf("Profile: %v", err)
				}
				if used := p.TradesUsed(tx.Now()); used != 0 {
					t.Fatalf("at %v the profile reports %d trades used, want 0", step.now, used)
				}
				q, err := tx.IncrementTrades()
				if err != nil || q != (polybot.Quota{Month: step.month, Used: 1, Limit: 100}) {
					t.Fatalf("first IncrementTrades at %v = %+v, %v; want 1 of 100 in %s", step.now, q, err, step.month)
				}
				return nil
			})
		}
	})

	t.Run("64 concurrent goroutines x 10 attempts against a quota of 100: exactly 100 succeed", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("q@example.com")
		other := e.newUser("other@example.com")
		const workers, attempts = 64, 10
		var ok, refused atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, workers*attempts)
		for range workers {
			wg.Go(func() {
				for range attempts {
					err := e.tenant(u.ID, func(tx polybot.TenantTx) error {
						_, err := tx.IncrementTrades()
						return err
					})
					switch polybot.ErrorCode(err) {
					case "":
						ok.Add(1)
					case polybot.EQUOTA:
						refused.Add(1)
					default:
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("IncrementTrades failed with something other than EQUOTA: %v", err)
		}
		if ok.Load() != 100 || refused.Load() != workers*attempts-100 {
			t.Fatalf("%d succeeded and %d got EQUOTA; want exactly 100 and %d", ok.Load(), refused.Load(), workers*attempts-100)
		}
		if p := e.profile(u.ID); p.TradesThisMonth != 100 {
			t.Fatalf("counter = %d, want 100", p.TradesThisMonth)
		}
		if p := e.profile(other.ID); p.TradesThisMonth != 0 {
			t.Fatalf("another tenant's counter moved to %d", p.TradesThisMonth)
		}
	})
}
