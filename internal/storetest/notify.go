package storetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

// Notifications fixture. Both tenants hold a destination under the same
// id with a delivery of the same idempotency key, so that a query which
// forgets the tenant meets another tenant's row; each also holds a
// destination of its own.
const sharedDestID = "shared-dest"

func ownDestID(tag string) string { return "dest-" + tag }

// notifyDest is a verified webhook destination of tenant tag.
func notifyDest(id, tag string, verified time.Time) *polybot.NotifyDestination {
	return &polybot.NotifyDestination{ID: id, Channel: polybot.ChannelWebhook, Name: "Hook " + tag,
		Target: "https://" + tag + ".example.com", Events: []string{}, Enabled: true, VerifiedAt: &verified,
		Sealed: map[string]string{polybot.NotifyFieldURL: "sealed-url-" + tag, polybot.NotifyFieldSigning: "sealed-secret-" + tag}}
}

func notifyEvent(id, tag string, at time.Time) *polybot.NotifyEvent {
	return &polybot.NotifyEvent{ID: id, Type: polybot.NotifyBotHalted, At: at, Title: "Halted " + tag, Text: "text " + tag}
}

func (e *env) seedNotify(tx polybot.TenantTx, f *tenantFixture) error {
	c, err := tx.Config()
	if err != nil {
		return err
	}
	for _, d := range []*polybot.NotifyDestination{notifyDest(sharedDestID, f.tag, tx.Now()), notifyDest(ownDestID(f.tag), f.tag, tx.Now())} {
		if err := tx.PutNotifyDestination(d); err != nil {
			return fmt.Errorf("PutNotifyDestination: %w", err)
		}
	}
	if n, err := polybot.Notify(tx, c, notifyEvent("shared-event", f.tag, tx.Now())); err != nil || n != 2 {
		return fmt.Errorf("Notify = %d, %v; want 2 deliveries", n, err)
	}
	return nil
}

func notifyState(tx polybot.TenantTx, s *tenantState, keep func(string, error)) {
	var err error
	s.NotifyDestinations, err = tx.NotifyDestinations()
	keep("NotifyDestinations", err)
	s.NotifyDeliveries, err = tx.NotifyDeliveries(polybot.NotifyDeliveryFilter{Limit: 1000})
	keep("NotifyDeliveries", err)
}

// dueOf is DueNotifyDeliveries as one user takes part in it.
func dueOf(tx polybot.AdminTx, user polybot.ID) ([]int64, error) {
	all, err := tx.DueNotifyDeliveries(1000)
	var out []int64
	for _, d := range all {
		if d.UserID == user {
			out = append(out, d.ID)
		}
	}
	return out, err
}

func notifyIsolationCases() []isoCase {
	aDelivery := func(f *isoFixture, dest string) *polybot.NotifyDelivery {
		for _, d := range f.e.state(f.a).NotifyDeliveries {
			if d.DestinationID == dest {
				return d
			}
		}
		return nil
	}
	bDelivery := func(f *isoFixture) *polybot.NotifyDelivery { return f.e.state(f.b).NotifyDeliveries[0] }
	return []isoCase{
		{method: "NotifyDestinations", does: "lists only A's destinations", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				all, err := tx.NotifyDestinations()
				if err == nil && (len(all) != 2 || all[0].ID != "dest-a" || all[1].Name != "Hook a" || all[1].UserID != f.A()) {
					t.Errorf("NotifyDestinations() = %v, want A's two", all)
				}
				return err
			}},
		{method: "NotifyDestination", does: "of the id A and B share returns A's, with A's sealed secrets", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				d, err := tx.NotifyDestination(sharedDestID)
				if err == nil && (d.Name != "Hook a" || d.Sealed[polybot.NotifyFieldSigning] != "sealed-secret-a" || d.UserID != f.A()) {
					t.Errorf("NotifyDestination(shared) = %+v, want A's", d)
				}
				return err
			}},
		{method: "NotifyDestination", does: "of B's own id is not found", read: true, want: polybot.ENOTFOUND,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				_, err := tx.NotifyDestination(ownDestID("b"))
				return err
			}},
		{method: "PutNotifyDestination", does: "of the shared id changes A's, not B's",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				d := notifyDest(sharedDestID, "a", tx.Now())
				d.Name, d.UserID = "renamed by A", f.B()
				return tx.PutNotifyDestination(d)
			},
			after: func(t *testing.T, f *isoFixture, err error) {
				if got := f.e.state(f.a).NotifyDestinations[1]; got.ID != sharedDestID || got.Name != "renamed by A" {
					t.Errorf("A's shared destination = %+v", got)
				}
			}},
		{method: "PutNotifyDestination", does: "of B's own id creates A's own", want: anyOutcome,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				return tx.PutNotifyDestination(notifyDest(ownDestID("b"), "a", tx.Now()))
			},
			after: func(t *testing.T, f *isoFixture, err error) {
				if err == nil && len(f.e.state(f.a).NotifyDestinations) != 3 {
					t.Errorf("A's destinations after the put: %v", f.e.state(f.a).NotifyDestinations)
				}
			}},
		{method: "DeleteNotifyDestination", does: "of B's own id is not found", want: polybot.ENOTFOUND,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				return tx.DeleteNotifyDestination(ownDestID("b"))
			}},
		{method: "DeleteNotifyDestination", does: "of the shared id deletes A's and its deliveries only",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				return tx.DeleteNotifyDestination(sharedDestID)
			},
			after: func(t *testing.T, f *isoFixture, err error) {
				if s := f.e.state(f.a); len(s.NotifyDestinations) != 1 || len(s.NotifyDeliveries) != 1 {
					t.Errorf("A after the delete: %v, %v", s.NotifyDestinations, s.NotifyDeliveries)
				}
			}},
		{method: "InsertNotifyDelivery", does: "for B's own destination is refused", want: anyOutcome,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				ok, err := tx.InsertNotifyDelivery(&polybot.NotifyDelivery{DestinationID: ownDestID("b"), Channel: polybot.ChannelWebhook,
					Key: "ntf_by_a", EventID: "e", Event: polybot.NotifyTest, Payload: json.RawMessage(`{}`), State: polybot.DeliveryPending, NextAt: tx.Now()})
				if err == nil {
					t.Errorf("InsertNotifyDelivery for B's destination = %v, want an error", ok)
				}
				return err
			}},
		{method: "InsertNotifyDelivery", does: "with B's idempotency key on the shared id queues A's once", want: anyOutcome,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				ok, err := tx.InsertNotifyDelivery(&polybot.NotifyDelivery{DestinationID: sharedDestID, Channel: polybot.ChannelWebhook,
					Key: bDelivery(f).Key, EventID: "e", Event: polybot.NotifyTest, Payload: json.RawMessage(`{}`), State: polybot.DeliveryPending, NextAt: tx.Now()})
				if err == nil && ok {
					t.Errorf("the key A already holds was queued again")
				}
				return err
			}},
		{method: "NotifyDeliveries", does: "lists only A's deliveries, also by B's destination id", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				all, err := tx.NotifyDeliveries(polybot.NotifyDeliveryFilter{})
				if err == nil && (len(all) != 2 || !strings.Contains(string(all[0].Payload), "Halted a")) {
					t.Errorf("NotifyDeliveries() = %v, want A's two", all)
				}
				mine, err := tx.NotifyDeliveries(polybot.NotifyDeliveryFilter{DestinationID: ownDestID("b")})
				if err == nil && len(mine) != 0 {
					t.Errorf("NotifyDeliveries(B's destination) = %v, want none", mine)
				}
				return err
			}},
		{method: "NotifyDelivery", does: "of B's id is not found", read: true, want: polybot.ENOTFOUND,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				_, err := tx.NotifyDelivery(bDelivery(f).ID)
				return err
			}},
		{method: "UpdateNotifyDelivery", does: "of B's id is not found", want: polybot.ENOTFOUND,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				d := *bDelivery(f)
				d.State = polybot.DeliveryDead
				return tx.UpdateNotifyDelivery(&d)
			}},
		{method: "UpdateNotifyDelivery", does: "of A's id changes A's only",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				d := aDelivery(f, sharedDestID)
				d.State, d.Attempts, d.LastError = polybot.DeliveryDead, 7, "gave up"
				return tx.UpdateNotifyDelivery(d)
			},
			after: func(t *testing.T, f *isoFixture, err error) {
				if d := aDelivery(f, sharedDestID); d.State != polybot.DeliveryDead || d.Attempts != 7 {
					t.Errorf("A's delivery after the update: %+v", d)
				}
			}},
		{method: "SwapNotifyDelivery", does: "of B's id, as B's reads, swaps nothing",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				was := *bDelivery(f)
				d := was
				d.State, d.Attempts = polybot.DeliveryDead, 7
				ok, err := tx.SwapNotifyDelivery(&was, &d)
				if ok {
					t.Errorf("A swapped B's delivery")
				}
				return err
			}},
		{method: "SwapNotifyDelivery", does: "of A's id as read changes A's only",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				was := aDelivery(f, sharedDestID)
				d := *was
				d.Attempts, d.NextAt = 1, tx.Now().Add(time.Minute)
				ok, err := tx.SwapNotifyDelivery(was, &d)
				if err == nil && !ok {
					t.Errorf("A's delivery as read was not swapped")
				}
				return err
			},
			after: func(t *testing.T, f *isoFixture, err error) {
				if d := aDelivery(f, sharedDestID); d.State != polybot.DeliveryPending || d.Attempts != 1 {
					t.Errorf("A's delivery after the swap: %+v", d)
				}
			}},
	}
}

func testNotify(t *testing.T, open Opener) {
	t.Run("a destination round-trips exactly; an update keeps CreatedAt; at most MaxNotifyDestinations", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("dest@example.com")
		want := notifyDest("d1", `x "🐳" \`, T0)
		want.Events, want.VerifyHash, want.VerifiedAt = []string{polybot.NotifyTrade, polybot.NotifyBilling}, strings.Repeat("ab", 32), nil
		stored := *want
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.PutNotifyDestination(&stored) })
		want.UserID, want.CreatedAt, want.UpdatedAt = u.ID, T0, T0
		wantEqual(t, "destination as Put left it", want, &stored)
		var got *polybot.NotifyDestination
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) (err error) { got, err = tx.NotifyDestination("d1"); return })
		wantEqual(t, "destination read back", want, got)

		later := e.clock.Advance(time.Hour)
		upd := *got
		upd.Name, upd.VerifiedAt, upd.VerifyHash = "renamed", &later, ""
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.PutNotifyDestination(&upd) })
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) (err error) { got, err = tx.NotifyDestination("d1"); return })
		if !got.CreatedAt.Equal(T0) || !got.UpdatedAt.Equal(later) || got.Name != "renamed" || got.VerifiedAt == nil || !got.VerifiedAt.Equal(later) {
			t.Errorf("after update: %+v", got)
		}
		for i := 1; i < polybot.MaxNotifyDestinations; i++ {
			e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
				return tx.PutNotifyDestination(notifyDest(fmt.Sprintf("more-%d", i), "x", later))
			})
		}
		err := e.tenant(u.ID, func(tx polybot.TenantTx) error {
			return tx.PutNotifyDestination(notifyDest("one-too-many", "x", later))
		})
		wantCode(t, err, polybot.EINVALID, "destination past the limit")
		if polybot.ErrorFields(err)["id"] == "" {
			t.Errorf("the refusal %v does not name id", err)
		}
	})

	t.Run("bad destinations and deliveries are EINVALID naming the field", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("bad@example.com")
		for _, c := range []struct {
			field string
			mod   func(d *polybot.NotifyDestination)
		}{
			{"name", func(d *polybot.NotifyDestination) { d.Name = "nul\x00" }},
			{"channel", func(d *polybot.NotifyDestination) { d.Channel = "sms" }},
			{"events", func(d *polybot.NotifyDestination) { d.Events = []string{"trade", "trade"} }},
			{"target", func(d *polybot.NotifyDestination) { d.Target = "\xff" }},
		} {
			d := notifyDest("bad", "x", T0)
			c.mod(d)
			err := e.tenant(u.ID, func(tx polybot.TenantTx) error { return tx.PutNotifyDestination(d) })
			wantCode(t, err, polybot.EINVALID, c.field)
			if polybot.ErrorFields(err)[c.field] == "" {
				t.Errorf("%v does not name %s", err, c.field)
			}
		}
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.PutNotifyDestination(notifyDest("d", "x", T0)) })
		err := e.tenant(u.ID, func(tx polybot.TenantTx) error {
			_, err := tx.InsertNotifyDelivery(&polybot.NotifyDelivery{DestinationID: "d", Channel: polybot.ChannelWebhook, Key: "k",
				EventID: "e", Event: polybot.NotifyTest, Payload: json.RawMessage(`{"a":"\u0000"}`), State: polybot.DeliveryPending})
			return err
		})
		wantCode(t, err, polybot.EINVALID, "payload with a NUL")
		if polybot.ErrorFields(err)["payload"] == "" {
			t.Errorf("%v does not name payload", err)
		}
	})

	t.Run("Notify queues once per event for enabled verified destinations the config and the event allow", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("notify@example.com")
		var c *polybot.Config
		e.mustTenant(u.ID, func(tx polybot.TenantTx) (err error) {
			c, err = tx.Config()
			if err != nil {
				return err
			}
			email := notifyDest("email", "e", T0)
			email.Channel, email.Target, email.Sealed = polybot.ChannelEmail, "e@example.com", nil
			unverified := notifyDest("unverified", "u", T0)
			unverified.VerifiedAt = nil
			disabled := notifyDest("disabled", "d", T0)
			disabled.Enabled = false
			tradesOnly := notifyDest("trades", "t", T0)
			tradesOnly.Events = []string{polybot.NotifyTrade}
			for _, d := range []*polybot.NotifyDestination{email, unverified, disabled, tradesOnly, notifyDest("hook", "h", T0)} {
				if err := tx.PutNotifyDestination(d); err != nil {
					return err
				}
			}
			return nil
		})
		// The default config lists only email: a trade reaches the email
		// destination; once webhook is listed, the two webhook destinations
		// that take trades too.
		queue := func(ev *polybot.NotifyEvent) int {
			var n int
			e.mustTenant(u.ID, func(tx polybot.TenantTx) (err error) { n, err = polybot.Notify(tx, c, ev); return })
			return n
		}
		trade := &polybot.NotifyEvent{ID: "trade:1", Type: polybot.NotifyTrade, Title: "t", Text: "t"}
		if n := queue(trade); n != 1 {
			t.Errorf("trade with channels [email] queued %d, want 1", n)
		}
		c.NotificationChannels = []string{polybot.ChannelEmail, polybot.ChannelWebhook}
		if n := queue(trade); n != 2 {
			t.Errorf("the same trade again with webhooks listed queued %d, want 2 (hook, trades; email's already queued)", n)
		}
		if n := queue(trade); n != 0 {
			t.Errorf("the same trade a third time queued %d, want 0", n)
		}
		c.NotifyOnTrade = false
		if n := queue(&polybot.NotifyEvent{ID: "trade:2", Type: polybot.NotifyTrade}); n != 0 {
			t.Errorf("trade with notify_on_trade off queued %d", n)
		}
		c.NotificationChannels = nil
		if n := queue(&polybot.NotifyEvent{ID: "halt:1", Type: polybot.NotifyBotHalted, Title: "h"}); n != 2 {
			t.Errorf("an always-sent event with no channel listed queued %d, want 2 (email, hook)", n)
		}
		var all []*polybot.NotifyDelivery
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) (err error) {
			all, err = tx.NotifyDeliveries(polybot.NotifyDeliveryFilter{})
			return
		})
		keys := map[string]bool{}
		for _, d := range all {
			if d.Key != polybot.NotifyKey(d.EventID, d.DestinationID) || d.State != polybot.DeliveryPending || !d.NextAt.Equal(T0) || keys[d.Key] {
				t.Errorf("delivery %+v: want pending now under its own key", d)
			}
			keys[d.Key] = true
		}
		if len(all) != 5 {
			t.Errorf("%d deliveries, want 5", len(all))
		}
	})

	t.Run("RecordFill queues the trade's notification in its own transaction", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("fill@example.com")
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			d := notifyDest("email", "e", T0)
			d.Channel, d.Target = polybot.ChannelEmail, "e@example.com"
			return tx.PutNotifyDestination(d)
		})
		fill := func(id string) *polybot.TradeFill {
			return &polybot.TradeFill{Venue: polybot.Kalshi, TradeID: id, Strategy: polybot.StrategySinglePlatform, Mode: polybot.DryRun,
				Instrument: polybot.Instrument{Venue: polybot.Kalshi, Market: "KX-1", Outcome: polybot.Yes}, Side: polybot.Buy,
				Price: polybot.MustDecimal("0.40"), Size: polybot.MustDecimal("10"), Fee: polybot.MustDecimal("0.17"), Time: T0}
		}
		rollback := fmt.Errorf("roll back")
		err := e.tenant(u.ID, func(tx polybot.TenantTx) error {
			if _, err := polybot.RecordFill(tx, fill("t-rolled-back"), nil); err != nil {
				return err
			}
			return rollback
		})
		if err != rollback {
			t.Fatalf("tenant = %v", err)
		}
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { _, err := polybot.RecordFill(tx, fill("t-1"), nil); return err })
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { _, err := polybot.RecordFill(tx, fill("t-1"), nil); return err })
		var all []*polybot.NotifyDelivery
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) (err error) {
			all, err = tx.NotifyDeliveries(polybot.NotifyDeliveryFilter{})
			return
		})
		var ev struct {
			Data struct{ Price, Side string }
		}
		if len(all) == 1 {
			_ = json.Unmarshal(all[0].Payload, &ev)
		}
		if len(all) != 1 || all[0].EventID != "trade:kalshi:t-1" || all[0].Event != polybot.NotifyTrade ||
			ev.Data.Price != "0.40" || ev.Data.Side != "BUY" {
			t.Fatalf("deliveries after a rolled-back fill and one fill recorded twice: %+v; want the one fill's", all)
		}
	})

	t.Run("a swap stores a delivery only while it is as the caller read it", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("swap@example.com")
		var id int64
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			if err := tx.PutNotifyDestination(notifyDest("d", "x", T0)); err != nil {
				return err
			}
			d := &polybot.NotifyDelivery{DestinationID: "d", Channel: polybot.ChannelWebhook, Key: "k", EventID: "e",
				Event: polybot.NotifyTest, Payload: json.RawMessage(`{}`), State: polybot.DeliveryPending, NextAt: T0}
			_, err := tx.InsertNotifyDelivery(d)
			id = d.ID
			return err
		})
		read := func() *polybot.NotifyDelivery {
			var d *polybot.NotifyDelivery
			e.mustTenantView(u.ID, func(tx polybot.TenantTx) (err error) { d, err = tx.NotifyDelivery(id); return })
			return d
		}
		// claim swaps was for was with one more attempt, due a minute on.
		claim := func(was *polybot.NotifyDelivery) bool {
			d := *was
			d.Attempts, d.NextAt = was.Attempts+1, e.clock.Now().Add(time.Minute)
			var ok bool
			e.mustTenant(u.ID, func(tx polybot.TenantTx) (err error) { ok, err = tx.SwapNotifyDelivery(was, &d); return })
			if ok && (!d.UpdatedAt.Equal(e.clock.Now()) || d.UserID != u.ID) {
				t.Errorf("the swapped delivery's UpdatedAt %v and UserID %v, want now and the tenant's", d.UpdatedAt, d.UserID)
			}
			return ok
		}
		first, second := read(), read() // two dispatchers read the same delivery
		e.clock.Advance(time.Second)
		if !claim(first) {
			t.Fatal("the first claim of the delivery as read did not store")
		}
		if claim(second) {
			t.Error("a second claim of what the first had already claimed stored")
		}
		if got := read(); got.Attempts != 1 || !got.NextAt.Equal(e.clock.Now().Add(time.Minute)) {
			t.Errorf("after two claims: %+v, want the first's (1 attempt, due in a minute)", got)
		}
		// Redelivered (attempts back to 0, due now): a claim of the
		// delivery as read before is refused, one as read now stores.
		e.clock.Advance(time.Second)
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			d := read()
			d.Attempts, d.NextAt = 0, tx.Now()
			return tx.UpdateNotifyDelivery(d)
		})
		if claim(first) {
			t.Error("a claim of the delivery as read before its redelivery stored")
		}
		if !claim(read()) {
			t.Error("a claim of the redelivered delivery as read now did not store")
		}
		// Not pending: delivered, it is never claimed.
		done := read()
		delivered := e.clock.Now()
		done.State, done.DeliveredAt = polybot.DeliveryDelivered, &delivered
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.UpdateNotifyDelivery(done) })
		if claim(read()) {
			t.Error("a delivered delivery was claimed")
		}
		// Gone since it was read: false, not an error.
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			d := read()
			d.State, d.DeliveredAt = polybot.DeliveryPending, nil
			return tx.UpdateNotifyDelivery(d)
		})
		pending := read()
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.DeleteNotifyDestination("d") })
		if claim(pending) {
			t.Error("a deleted delivery was claimed")
		}
		// One delivery swapped for another: an error.
		other := *pending
		other.ID++
		err := e.tenant(u.ID, func(tx polybot.TenantTx) error { _, err := tx.SwapNotifyDelivery(pending, &other); return err })
		if err == nil {
			t.Error("a swap of one delivery for another: no error")
		}
	})

	t.Run("deliveries page, update, and fall due on the service path in order", func(t *testing.T) {
		e := newEnv(t, open)
		a, b := e.newUser("due-a@example.com"), e.newUser("due-b@example.com")
		for i, u := range []*polybot.User{a, b} {
			e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
				if err := tx.PutNotifyDestination(notifyDest("d", "x", T0)); err != nil {
					return err
				}
				for j := range 3 {
					_, err := tx.InsertNotifyDelivery(&polybot.NotifyDelivery{DestinationID: "d", Channel: polybot.ChannelWebhook,
						Key: fmt.Sprintf("k%d", j), EventID: fmt.Sprintf("e%d", j), Event: polybot.NotifyTest,
						Payload: json.RawMessage(`{}`), State: polybot.DeliveryPending, NextAt: T0.Add(time.Duration(j*2+i) * time.Minute)})
					if err != nil {
						return err
					}
				}
				return nil
			})
		}
		var page []*polybot.NotifyDelivery
		e.mustTenantView(a.ID, func(tx polybot.TenantTx) (err error) {
			page, err = tx.NotifyDeliveries(polybot.NotifyDeliveryFilter{Limit: 2})
			return
		})
		if len(page) != 2 || page[0].Key != "k2" || page[1].Key != "k1" {
			t.Fatalf("first page = %v, want k2, k1", page)
		}
		var rest []*polybot.NotifyDelivery
		e.mustTenantView(a.ID, func(tx polybot.TenantTx) (err error) {
			rest, err = tx.NotifyDeliveries(polybot.NotifyDeliveryFilter{Before: page[1].ID})
			return
		})
		if len(rest) != 1 || rest[0].Key != "k0" {
			t.Fatalf("next page = %v, want k0", rest)
		}
		e.clock.Set(T0.Add(150 * time.Second)) // a's k0 (0m), k1 (2m); b's k0 (1m) are due
		var due []polybot.NotifyDue
		e.mustAdminView(func(tx polybot.AdminTx) (err error) { due, err = tx.DueNotifyDeliveries(10); return })
		if len(due) != 3 || due[0].UserID != a.ID || due[1].UserID != b.ID || due[2].UserID != a.ID || due[2].ID != page[1].ID {
			t.Fatalf("due = %+v, want a k0, b k0, a k1", due)
		}
		d := *page[1]
		delivered := e.clock.Now()
		d.State, d.Attempts, d.DeliveredAt = polybot.DeliveryDelivered, 1, &delivered
		e.mustTenant(a.ID, func(tx polybot.TenantTx) error { return tx.UpdateNotifyDelivery(&d) })
		var got *polybot.NotifyDelivery
		e.mustTenantView(a.ID, func(tx polybot.TenantTx) (err error) { got, err = tx.NotifyDelivery(d.ID); return })
		if got.State != polybot.DeliveryDelivered || got.Attempts != 1 || got.DeliveredAt == nil || !got.UpdatedAt.Equal(delivered) {
			t.Errorf("after the update: %+v", got)
		}
		e.mustAdminView(func(tx polybot.AdminTx) (err error) {
			ids, err := dueOf(tx, a.ID)
			if len(ids) != 1 {
				t.Errorf("a's due after one was delivered: %v", ids)
			}
			return err
		})
		var delivered1 []*polybot.NotifyDelivery
		e.mustTenantView(a.ID, func(tx polybot.TenantTx) (err error) {
			delivered1, err = tx.NotifyDeliveries(polybot.NotifyDeliveryFilter{State: polybot.DeliveryDelivered, DestinationID: "d"})
			return
		})
		if len(delivered1) != 1 {
			t.Errorf("delivered = %v", delivered1)
		}
	})
}
