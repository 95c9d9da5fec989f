package storetest

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

// Copy-trading fixture. Both tenants follow the same wallet under the same
// leader id, with a copy record of the same trade key, so that a query
// which forgets the tenant meets another tenant's row; each also follows a
// wallet of its own.
const (
	sharedLeaderID = "shared-leader"
	sharedTradeKey = "0xsharedtx/111"
)

var sharedWallet = "0x" + strings.Repeat("ab", 20)

// ownWallet is tenant tag's own wallet: 0x6161… for a, 0x6262… for b.
func ownWallet(tag string) string {
	return "0x" + strings.Repeat(hex.EncodeToString([]byte(tag[:1])), 20)
}

func ownLeaderID(tag string) string { return "leader-" + tag }

// leader is a valid proportional leader of tenant tag.
func leader(id, address, tag string) *polybot.Leader {
	return &polybot.Leader{ID: id, Address: address, Label: "Leader " + tag, Enabled: true, Mode: polybot.CopyProportional,
		Multiplier: tagAmount(tag), MaxTradeUSD: polybot.MustDecimal("50"), PriceGuard: polybot.MustDecimal("0.02"),
		MaxAge: time.Minute}
}

// copyRecord is a copied leader buy of leaderID.
func copyRecord(leaderID, key, tag string, at time.Time) *polybot.CopyRecord {
	return &polybot.CopyRecord{LeaderID: leaderID, TradeKey: key, LeaderSide: polybot.Buy,
		LeaderPrice: polybot.MustDecimal("0.42"), LeaderSize: tagAmount(tag).MulInt(100), LeaderTime: at.Add(-time.Second),
		Instrument: polyToken("555", polybot.Yes), Title: "Market of " + tag, Action: polybot.CopyCopied,
		OpportunityID: polybot.CopyOpportunityID(leaderID, key), Size: tagAmount(tag), Price: polybot.MustDecimal("0.43"), At: at}
}

type leaderCursor struct {
	At  time.Time
	Key string
}

// seedCopy gives tenant f its two leaders, a cursor on the shared one and
// a record for each (the shared one of the trade key every tenant uses).
func (e *env) seedCopy(tx polybot.TenantTx, f *tenantFixture) error {
	tag, now := f.tag, tx.Now()
	f.leaders = []*polybot.Leader{leader(sharedLeaderID, sharedWallet, tag), leader(ownLeaderID(tag), ownWallet(tag), tag)}
	f.leaders[1].Mode, f.leaders[1].Multiplier, f.leaders[1].FixedUSD = polybot.CopyFixed, polybot.Zero, tagAmount(tag).MulInt(10)
	for _, l := range f.leaders {
		if err := tx.PutLeader(l); err != nil {
			return fmt.Errorf("PutLeader: %w", err)
		}
	}
	if err := tx.SetLeaderCursor(sharedLeaderID, now.Add(-time.Minute), "0xcursor-"+tag+"/1"); err != nil {
		return fmt.Errorf("SetLeaderCursor: %w", err)
	}
	skipped := copyRecord(ownLeaderID(tag), "0xown-"+tag+"/2", tag, now)
	skipped.Action, skipped.Reason, skipped.OpportunityID, skipped.Size, skipped.Price = polybot.CopySkipped, "price moved "+tag, "", polybot.Zero, polybot.Zero
	f.copies = []*polybot.CopyRecord{copyRecord(sharedLeaderID, sharedTradeKey, tag, now.Add(-time.Second)), skipped}
	for _, c := range f.copies {
		if err := tx.PutCopyRecord(c); err != nil {
			return fmt.Errorf("PutCopyRecord: %w", err)
		}
	}
	return nil
}

// copyState reads what a tenant's transactions and the service path show
// of its copy trading.
func copyState(tx polybot.TenantTx, s *tenantState, keep func(string, error)) {
	var err error
	s.Leaders, err = tx.Leaders()
	keep("Leaders", err)
	s.Cursors = map[string]leaderCursor{}
	for _, l := range s.Leaders {
		at, key, err := tx.LeaderCursor(l.ID)
		keep("LeaderCursor "+l.ID, err)
		s.Cursors[l.ID] = leaderCursor{at, key}
	}
	s.CopyRecords, err = tx.CopyRecords("", 1000)
	keep("CopyRecords", err)
}

// followedBy is FollowedWallets as one user takes part in it.
func followedBy(all []polybot.FollowedWallet, user polybot.ID) []string {
	var out []string
	for _, w := range all {
		for _, f := range w.Leaders {
			if f.UserID == user {
				out = append(out, w.Address+" "+f.LeaderID)
			}
		}
	}
	return out
}

func copyIsolationCases() []isoCase {
	aLeaders := func(f *isoFixture) map[string]*polybot.Leader {
		out := map[string]*polybot.Leader{}
		for _, l := range f.e.state(f.a).Leaders {
			out[l.ID] = l
		}
		return out
	}
	return []isoCase{
		{method: "Leaders", does: "lists only A's leaders", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				all, err := tx.Leaders()
				if err == nil && (len(all) != 2 || all[0].ID != "leader-a" || all[1].Label != "Leader a" || all[1].UserID != f.A()) {
					t.Errorf("Leaders() = %v, want A's two", all)
				}
				return err
			}},
		{method: "Leader", does: "of the id A and B share returns A's", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				l, err := tx.Leader(sharedLeaderID)
				if err == nil && (l.Label != "Leader a" || l.Multiplier.String() != "1.11" || l.UserID != f.A()) {
					t.Errorf("Leader(shared) = %+v, want A's", l)
				}
				return err
			}},
		{method: "Leader", does: "of B's own id is not found", read: true, want: polybot.ENOTFOUND,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				_, err := tx.Leader("leader-b")
				return err
			}},
		{method: "PutLeader", does: "with UserID B, B's own id and B's own wallet stores it for A",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				l := leader("leader-b", ownWallet("b"), "planted")
				l.UserID = f.B()
				return tx.PutLeader(l)
			},
			after: func(t *testing.T, f *isoFixture, _ error) {
				if l := aLeaders(f)["leader-b"]; l == nil || l.Label != "Leader planted" || l.UserID != f.A() {
					t.Errorf("A's leader-b = %+v, want it stored for A", l)
				}
			}},
		{method: "PutLeader", does: "of the id A and B share updates only A's",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				return tx.PutLeader(leader(sharedLeaderID, sharedWallet, "updated"))
			},
			after: func(t *testing.T, f *isoFixture, _ error) {
				if l := aLeaders(f)[sharedLeaderID]; l == nil || l.Label != "Leader updated" {
					t.Errorf("A's shared leader = %+v, want the update", l)
				}
			}},
		{method: "DeleteLeader", does: "of B's own id is not found and B's stays", want: polybot.ENOTFOUND,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error { return tx.DeleteLeader("leader-b") }},
		{method: "DeleteLeader", does: "of the id A and B share deletes only A's, with A's records",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error { return tx.DeleteLeader(sharedLeaderID) },
			after: func(t *testing.T, f *isoFixture, _ error) {
				s := f.e.state(f.a)
				if len(s.Leaders) != 1 || len(s.CopyRecords) != 1 || s.CopyRecords[0].LeaderID != "leader-a" {
					t.Errorf("A after the delete: leaders %v, records %v; want leader-a and its record", s.Leaders, s.CopyRecords)
				}
			}},
		{method: "LeaderCursor", does: "of the id A and B share is A's", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				_, key, err := tx.LeaderCursor(sharedLeaderID)
				if err == nil && key != "0xcursor-a/1" {
					t.Errorf("LeaderCursor(shared) key = %q, want A's", key)
				}
				return err
			}},
		{method: "LeaderCursor", does: "of B's own leader is not found", read: true, want: polybot.ENOTFOUND,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				_, _, err := tx.LeaderCursor("leader-b")
				return err
			}},
		{method: "SetLeaderCursor", does: "of the id A and B share moves only A's",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				return tx.SetLeaderCursor(sharedLeaderID, tx.Now(), "0xmoved/1")
			},
			after: func(t *testing.T, f *isoFixture, _ error) {
				if c := f.e.state(f.a).Cursors[sharedLeaderID]; c.Key != "0xmoved/1" {
					t.Errorf("A's cursor = %+v, want moved", c)
				}
			}},
		{method: "SetLeaderCursor", does: "of B's own leader is not found", want: polybot.ENOTFOUND,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				return tx.SetLeaderCursor("leader-b", tx.Now(), "0xmoved/1")
			}},
		{method: "PutCopyRecord", does: "of the trade key B recorded stores it for A only once",
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				c := copyRecord(sharedLeaderID, "0xnew/1", "planted", tx.Now())
				return tx.PutCopyRecord(c)
			},
			after: func(t *testing.T, f *isoFixture, _ error) {
				if rs := f.e.state(f.a).CopyRecords; len(rs) != 3 || rs[0].TradeKey != "0xnew/1" {
					t.Errorf("A's records = %v, want the new one first of three", rs)
				}
			}},
		{method: "PutCopyRecord", does: "for B's own leader is not found", want: polybot.ENOTFOUND,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				return tx.PutCopyRecord(copyRecord("leader-b", "0xnew/1", "planted", tx.Now()))
			}},
		{method: "CopyRecords", does: "lists only A's records, of one leader or all", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				all, err := tx.CopyRecords("", 10)
				if err != nil {
					return err
				}
				if len(all) != 2 || all[0].Reason != "price moved a" || all[1].LeaderSize != polybot.MustDecimal("111") {
					t.Errorf("CopyRecords(all) = %v, want A's two", all)
				}
				shared, err := tx.CopyRecords(sharedLeaderID, 10)
				if err == nil && (len(shared) != 1 || shared[0].Title != "Market of a") {
					t.Errorf("CopyRecords(shared) = %v, want A's", shared)
				}
				of, err := tx.CopyRecords("leader-b", 10)
				if err == nil && len(of) != 0 {
					t.Errorf("CopyRecords(leader-b) = %v, want none", of)
				}
				return err
			}},
		{method: "CopyPnL", does: "of B's own leader is not found", read: true, want: polybot.ENOTFOUND,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				_, err := tx.CopyPnL("leader-b")
				return err
			}},
		{method: "CopyPnL", does: "of the id A and B share sums A's fills only (none)", read: true,
			run: func(t *testing.T, f *isoFixture, tx polybot.TenantTx) error {
				p, err := tx.CopyPnL(sharedLeaderID)
				if err == nil && (len(p.Modes) != 0 || len(p.Open) != 0) {
					t.Errorf("CopyPnL(shared) = %+v, want nothing", p)
				}
				return err
			}},
	}
}

// testCopy checks copy trading's storage: leaders are created, read,
// updated and deleted alike on every store, with every field exact; bad
// input is the same error naming the field; a wallet is followed once per
// user, at most MaxLeaders; the cursor round-trips and only moves
// forward; records are kept once per trade; the service path groups the
// followers of one wallet; a leader's P&L sums its copies' fills only.
func testCopy(t *testing.T, open Opener) {
	t.Run("a new store holds no leaders, records or followed wallets", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("empty@example.com")
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			ls, err := tx.Leaders()
			if err != nil || ls == nil || len(ls) != 0 {
				t.Errorf("Leaders = %v, %v; want an empty list", ls, err)
			}
			rs, err := tx.CopyRecords("", 10)
			if err != nil || rs == nil || len(rs) != 0 {
				t.Errorf("CopyRecords = %v, %v; want an empty list", rs, err)
			}
			return nil
		})
		e.mustAdminView(func(tx polybot.AdminTx) error {
			ws, err := tx.FollowedWallets()
			if err != nil || ws == nil || len(ws) != 0 {
				t.Errorf("FollowedWallets = %v, %v; want an empty list", ws, err)
			}
			return nil
		})
	})

	t.Run("a leader with every field round-trips exactly; an update keeps CreatedAt", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("leaders@example.com")
		want := &polybot.Leader{ID: "whale", Address: "0x" + strings.Repeat("AbC1", 10), Label: `Whale "🐳" \ 鲸`, Enabled: true,
			Mode: polybot.CopyBalancePct, Multiplier: polybot.MustDecimal("99.999999"), FixedUSD: polybot.MustDecimal("0.000001"),
			BalancePct: polybot.MustDecimal("100"), MaxTradeUSD: polybot.MustDecimal("999999.999999"),
			MaxMarketUSD: polybot.MustDecimal("123.456789"), MaxDayUSD: polybot.MustDecimal("1000"),
			MinLeaderUSD: polybot.MustDecimal("5.5"), PriceGuard: polybot.MustDecimal("0.999999"), MaxAge: polybot.MaxCopyMaxAge}
		stored := *want
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.PutLeader(&stored) })
		want.Address = strings.ToLower(want.Address)
		want.UserID, want.CreatedAt, want.UpdatedAt = u.ID, T0, T0
		wantEqual(t, "leader as PutLeader left it", want, &stored)
		var got *polybot.Leader
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) (err error) { got, err = tx.Leader("whale"); return })
		wantEqual(t, "leader read back", want, got)
		if got.MaxAge != polybot.MaxCopyMaxAge || got.PriceGuard.String() != "0.999999" {
			t.Errorf("read back max age %v, guard %s", got.MaxAge, got.PriceGuard)
		}

		later := e.clock.Advance(time.Hour)
		upd := *want
		upd.Label, upd.Enabled, upd.MaxAge = "renamed", false, 0 // 0: the default
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.PutLeader(&upd) })
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) (err error) { got, err = tx.Leader("whale"); return })
		if !got.CreatedAt.Equal(T0) || !got.UpdatedAt.Equal(later) || got.Label != "renamed" || got.Enabled || got.MaxAge != polybot.DefaultCopyMaxAge {
			t.Errorf("after update: %+v; want CreatedAt %v kept, UpdatedAt %v, default max age", got, T0, later)
		}
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.DeleteLeader("whale") })
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			_, err := tx.Leader("whale")
			wantCode(t, err, polybot.ENOTFOUND, "Leader after delete")
			return nil
		})
	})

	t.Run("bad leaders, cursors and records are EINVALID naming the field", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("bad@example.com")
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.PutLeader(leader("ok", sharedWallet, "x")) })
		edit := func(fn func(l *polybot.Leader)) func(tx polybot.TenantTx) error {
			return func(tx polybot.TenantTx) error {
				l := leader("new", ownWallet("d"), "x")
				fn(l)
				return tx.PutLeader(l)
			}
		}
		rec := func(fn func(c *polybot.CopyRecord)) func(tx polybot.TenantTx) error {
			return func(tx polybot.TenantTx) error {
				c := copyRecord("ok", "0xk/1", "x", tx.Now())
				fn(c)
				return tx.PutCopyRecord(c)
			}
		}
		for _, c := range []struct {
			name, field string
			run         func(tx polybot.TenantTx) error
		}{
			{"no id", "id", edit(func(l *polybot.Leader) { l.ID = "" })},
			{"an id too long", "id", edit(func(l *polybot.Leader) { l.ID = strings.Repeat("x", 65) })},
			{"a short address", "address", edit(func(l *polybot.Leader) { l.Address = "0x1234" })},
			{"an address that is not hex", "address", edit(func(l *polybot.Leader) { l.Address = "0x" + strings.Repeat("zz", 20) })},
			{"a label with a NUL", "label", edit(func(l *polybot.Leader) { l.Label = "a\x00b" })},
			{"an unknown mode", "mode", edit(func(l *polybot.Leader) { l.Mode = "martingale" })},
			{"a zero multiplier", "multiplier", edit(func(l *polybot.Leader) { l.Multiplier = polybot.Zero })},
			{"fixed without dollars", "fixed_usd", edit(func(l *polybot.Leader) { l.Mode = polybot.CopyFixed })},
			{"a balance share over 100", "balance_pct", edit(func(l *polybot.Leader) {
				l.Mode, l.BalancePct = polybot.CopyBalancePct, polybot.MustDecimal("100.5")
			})},
			{"a negative cap", "max_day_usd", edit(func(l *polybot.Leader) { l.MaxDayUSD = polybot.MustDecimal("-1") })},
			{"a price guard of a dollar", "price_guard", edit(func(l *polybot.Leader) { l.PriceGuard = polybot.One })},
			{"a staleness over an hour", "max_age_seconds", edit(func(l *polybot.Leader) { l.MaxAge = 2 * time.Hour })},
			{"a staleness in part seconds", "max_age_seconds", edit(func(l *polybot.Leader) { l.MaxAge = 1500 * time.Millisecond })},
			{"a cursor without a time", "at", func(tx polybot.TenantTx) error { return tx.SetLeaderCursor("ok", time.Time{}, "k") }},
			{"a record without a trade key", "trade_key", rec(func(c *polybot.CopyRecord) { c.TradeKey = "" })},
			{"a record with an unknown action", "action", rec(func(c *polybot.CopyRecord) { c.Action = "maybe" })},
			{"a skip without a reason", "reason", rec(func(c *polybot.CopyRecord) { c.Action, c.Reason = polybot.CopySkipped, "" })},
			{"a record with a negative size", "size", rec(func(c *polybot.CopyRecord) { c.Size = polybot.MustDecimal("-1") })},
			{"a record without the leader's time", "leader_time", rec(func(c *polybot.CopyRecord) { c.LeaderTime = time.Time{} })},
		} {
			err := e.tenant(u.ID, c.run)
			wantCode(t, err, polybot.EINVALID, c.name)
			if _, ok := polybot.ErrorFields(err)[c.field]; !ok {
				t.Errorf("%s: fields %v, want %q named", c.name, polybot.ErrorFields(err), c.field)
			}
		}
		var ls []*polybot.Leader
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) (err error) { ls, err = tx.Leaders(); return })
		if len(ls) != 1 {
			t.Errorf("Leaders after the refusals = %v, want only ok", ls)
		}
	})

	t.Run("a user follows a wallet once, at most MaxLeaders wallets", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("dup@example.com")
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.PutLeader(leader("first", sharedWallet, "x")) })
		err := e.tenant(u.ID, func(tx polybot.TenantTx) error {
			return tx.PutLeader(leader("second", strings.ToUpper(sharedWallet[2:4])+sharedWallet[4:]+"", "x"))
		})
		wantCode(t, err, polybot.EINVALID, "an address without 0x")
		err = e.tenant(u.ID, func(tx polybot.TenantTx) error {
			return tx.PutLeader(leader("second", "0x"+strings.ToUpper(sharedWallet[2:]), "x"))
		})
		wantCode(t, err, polybot.ECONFLICT, "the same wallet in upper case under another id")
		if msg := polybot.ErrorFields(err)["address"]; !strings.Contains(msg, "first") {
			t.Errorf("conflict fields %v, want address naming leader first", polybot.ErrorFields(err))
		}
		// Another user may follow it; the same id may be saved again.
		other := e.newUser("other@example.com")
		e.mustTenant(other.ID, func(tx polybot.TenantTx) error { return tx.PutLeader(leader("second", sharedWallet, "y")) })
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.PutLeader(leader("first", sharedWallet, "again")) })

		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			for i := 1; i < polybot.MaxLeaders; i++ {
				if err := tx.PutLeader(leader(fmt.Sprintf("l%02d", i), fmt.Sprintf("0x%040x", i), "x")); err != nil {
					return err
				}
			}
			return nil
		})
		err = e.tenant(u.ID, func(tx polybot.TenantTx) error {
			return tx.PutLeader(leader("one-too-many", fmt.Sprintf("0x%040x", 999), "x"))
		})
		wantCode(t, err, polybot.EFORBIDDEN, "leader past MaxLeaders")
		if _, ok := polybot.ErrorFields(err)["leaders"]; !ok {
			t.Errorf("cap fields %v, want leaders named", polybot.ErrorFields(err))
		}
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			return tx.PutLeader(leader("l01", fmt.Sprintf("0x%040x", 1), "edited"))
		})
	})

	t.Run("the cursor round-trips, only moves forward, and resets with the address", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("cursor@example.com")
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.PutLeader(leader("l", sharedWallet, "x")) })
		read := func() leaderCursor {
			var c leaderCursor
			e.mustTenantView(u.ID, func(tx polybot.TenantTx) (err error) { c.At, c.Key, err = tx.LeaderCursor("l"); return })
			return c
		}
		if c := read(); !c.At.IsZero() || c.Key != "" {
			t.Errorf("new leader's cursor = %+v, want zero", c)
		}
		at := T0.Add(-90*time.Second + 123456789*time.Nanosecond)
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.SetLeaderCursor("l", at, "0xtx1/5") })
		want := leaderCursor{at.UTC().Truncate(time.Microsecond), "0xtx1/5"}
		wantEqual(t, "cursor read back", want, read())
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.SetLeaderCursor("l", at.Add(-time.Second), "0xolder/1") })
		wantEqual(t, "cursor after an older time", want, read())
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.SetLeaderCursor("l", at.Add(time.Second), "0xtx2/5") })
		want = leaderCursor{at.Add(time.Second).UTC().Truncate(time.Microsecond), "0xtx2/5"}
		wantEqual(t, "cursor after a newer time", want, read())
		l := leader("l", sharedWallet, "relabelled")
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.PutLeader(l) })
		wantEqual(t, "cursor after an edit keeping the address", want, read())
		l.Address = ownWallet("e")
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.PutLeader(l) })
		if c := read(); !c.At.IsZero() || c.Key != "" {
			t.Errorf("cursor after the address changed = %+v, want zero", c)
		}
	})

	t.Run("records are kept once per trade, newest first, and go with their leader", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("records@example.com")
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			if err := tx.PutLeader(leader("l1", sharedWallet, "x")); err != nil {
				return err
			}
			return tx.PutLeader(leader("l2", ownWallet("f"), "x"))
		})
		first := copyRecord("l1", "0xa/1", "x", T0.Add(time.Second+789*time.Nanosecond))
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			for _, c := range []*polybot.CopyRecord{first, copyRecord("l2", "0xb/1", "x", T0.Add(2*time.Second)),
				copyRecord("l1", "0xc/1", "x", T0.Add(3*time.Second))} {
				if err := tx.PutCopyRecord(c); err != nil {
					return err
				}
			}
			again := copyRecord("l1", "0xa/1", "x", T0.Add(time.Hour))
			again.Action, again.Reason = polybot.CopySkipped, "second word"
			return tx.PutCopyRecord(again)
		})
		var all, l1, one []*polybot.CopyRecord
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) (err error) {
			if all, err = tx.CopyRecords("", 0); err != nil {
				return err
			}
			if l1, err = tx.CopyRecords("l1", 10); err != nil {
				return err
			}
			one, err = tx.CopyRecords("l1", 1)
			return err
		})
		keys := func(rs []*polybot.CopyRecord) string {
			var s []string
			for _, r := range rs {
				s = append(s, r.TradeKey)
			}
			return strings.Join(s, " ")
		}
		if keys(all) != "0xc/1 0xb/1 0xa/1" || keys(l1) != "0xc/1 0xa/1" || keys(one) != "0xc/1" {
			t.Errorf("records all %q, l1 %q, l1 limit 1 %q", keys(all), keys(l1), keys(one))
		}
		want := *first
		want.At, want.LeaderTime = want.At.Truncate(time.Microsecond), want.LeaderTime.Truncate(time.Microsecond)
		wantEqual(t, "the first record, kept as it was", &want, l1[1])
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.DeleteLeader("l1") })
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) (err error) { all, err = tx.CopyRecords("", 10); return })
		if keys(all) != "0xb/1" {
			t.Errorf("records after l1's delete = %q, want only l2's", keys(all))
		}
	})

	t.Run("FollowedWallets groups the enabled followers of each wallet", func(t *testing.T) {
		e := newEnv(t, open)
		a, b := e.newUser("fa@example.com"), e.newUser("fb@example.com")
		e.mustTenant(a.ID, func(tx polybot.TenantTx) error {
			if err := tx.PutLeader(leader("whale", "0x"+strings.ToUpper(sharedWallet[2:]), "a")); err != nil {
				return err
			}
			off := leader("off", ownWallet("c"), "a")
			off.Enabled = false
			return tx.PutLeader(off)
		})
		e.mustTenant(b.ID, func(tx polybot.TenantTx) error {
			if err := tx.PutLeader(leader("my-whale", sharedWallet, "b")); err != nil {
				return err
			}
			return tx.PutLeader(leader("own", ownWallet("d"), "b"))
		})
		var got []polybot.FollowedWallet
		e.mustAdminView(func(tx polybot.AdminTx) (err error) { got, err = tx.FollowedWallets(); return })
		first, second := polybot.WalletFollower{UserID: a.ID, LeaderID: "whale"}, polybot.WalletFollower{UserID: b.ID, LeaderID: "my-whale"}
		if strings.Compare(a.ID.String(), b.ID.String()) > 0 {
			first, second = second, first
		}
		want := []polybot.FollowedWallet{
			{Address: sharedWallet, Leaders: []polybot.WalletFollower{first, second}},
			{Address: ownWallet("d"), Leaders: []polybot.WalletFollower{{UserID: b.ID, LeaderID: "own"}}},
		}
		if sharedWallet > ownWallet("d") {
			want[0], want[1] = want[1], want[0]
		}
		wantEqual(t, "followed wallets", want, got)
	})

	t.Run("CopyPnL sums the fills of the leader's copies only, with hand-worked numbers", func(t *testing.T) {
		e := newEnv(t, open)
		u, other := e.newUser("pnl@example.com"), e.newUser("pnl-other@example.com")
		inst := polyToken("777", polybot.Yes)
		key := "0xleadertx/777"
		opp := polybot.CopyOpportunityID("a", key)
		seed := func(id polybot.ID, extra bool) {
			e.mustTenant(id, func(tx polybot.TenantTx) error {
				for _, l := range []*polybot.Leader{leader("a", sharedWallet, "x"), leader("a-b", ownWallet("c"), "x")} {
					if err := tx.PutLeader(l); err != nil {
						return err
					}
				}
				type leg struct {
					id, opp, strategy string
					side              polybot.Side
					price, size, fee  string
					pnl               string
				}
				legs := []leg{
					// Bought 10 at 0.40 (fee 0.01), sold 4 at 0.55 (fee 0.02):
					// realised 4 × (0.55 − 0.40) = 0.60; fees 0.03; net 0.57; 6 held.
					{"pb-copy-buy", opp, polybot.StrategyCopy, polybot.Buy, "0.40", "10", "0.01", "0"},
					{"pb-copy-sell", opp, polybot.StrategyCopy, polybot.Sell, "0.55", "4", "0.02", "0.60"},
					// Leader a-b's copy, whose opportunity starts "copy-a-".
					{"pb-copy-ab", polybot.CopyOpportunityID("a-b", key), polybot.StrategyCopy, polybot.Buy, "0.30", "5", "0.05", "0"},
					// Another strategy under a copy-looking opportunity.
					{"pb-news", opp, polybot.StrategyNews, polybot.Sell, "0.50", "1", "0.07", "0.09"},
				}
				if extra { // the other tenant: the same ids, other numbers
					legs = legs[:2]
					legs[1].pnl = "5.55"
				}
				for i, l := range legs {
					in := newIntent(l.id, inst)
					in.OpportunityID, in.Strategy, in.Side = l.opp, l.strategy, l.side
					if err := tx.InsertIntent(in); err != nil {
						return err
					}
					f := &polybot.TradeFill{Venue: polybot.Polymarket, TradeID: fmt.Sprintf("t%d", i), ClientOrderID: l.id,
						Strategy: l.strategy, Mode: polybot.DryRun, Instrument: inst, Side: l.side,
						Price: polybot.MustDecimal(l.price), Size: polybot.MustDecimal(l.size), Fee: polybot.MustDecimal(l.fee),
						RealizedPnL: polybot.MustDecimal(l.pnl), Time: tx.Now()}
					if err := tx.InsertFill(f); err != nil {
						return err
					}
				}
				return nil
			})
		}
		seed(u.ID, false)
		seed(other.ID, true)
		var got *polybot.CopyPnL
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) (err error) { got, err = tx.CopyPnL("a"); return })
		want := &polybot.CopyPnL{LeaderID: "a",
			Modes: []polybot.CopyModePnL{{Mode: polybot.DryRun, Realized: polybot.MustDecimal("0.6"),
				Fees: polybot.MustDecimal("0.03"), Net: polybot.MustDecimal("0.57"), Fills: 2}},
			Open: []polybot.CopyOpenTotal{{Instrument: inst, Mode: polybot.DryRun, Size: polybot.MustDecimal("6")}}}
		wantEqual(t, "leader a's P&L", want, got)
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) (err error) { got, err = tx.CopyPnL("a-b"); return })
		if len(got.Modes) != 1 || got.Modes[0].Fills != 1 || got.Modes[0].Fees.String() != "0.05" {
			t.Errorf("leader a-b's P&L = %+v, want its one fill", got)
		}
	})
}
