package engine

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

// leaderSource is a followed wallets' trade history the test writes, read
// as the Data API would be, counting the reads per wallet.
type leaderSource struct {
	mu     sync.Mutex
	trades map[string][]polybot.LeaderTrade
	reads  map[string]int
}

func (s *leaderSource) add(wallet string, t polybot.LeaderTrade) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trades[wallet] = append(s.trades[wallet], t)
}

func (s *leaderSource) LeaderTrades(_ context.Context, wallet string, since time.Time) ([]polybot.LeaderTrade, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads[wallet]++
	var out []polybot.LeaderTrade
	for _, t := range s.trades[wallet] {
		if !t.Time.Before(since) {
			out = append(out, t)
		}
	}
	return out, nil
}

// copyBook is the store's part kept in memory, as the stores keep it
// (their conformance suite covers persistence): cursors and records.
type copyBook struct {
	mu      sync.Mutex
	leaders map[polybot.ID][]*polybot.Leader
	cursors map[string][2]string
	records map[polybot.ID][]CopyRecord
}

func (b *copyBook) store() CopyStore {
	return CopyStore{
		Leaders: func(tx polybot.TenantTx) ([]*polybot.Leader, error) {
			u, err := tx.User()
			if err != nil {
				return nil, err
			}
			b.mu.Lock()
			defer b.mu.Unlock()
			return b.leaders[u.ID], nil
		},
		Cursor: func(_ context.Context, t polybot.ID, l string) (time.Time, string, error) {
			b.mu.Lock()
			defer b.mu.Unlock()
			c, ok := b.cursors[t.String()+"/"+l]
			if !ok {
				return time.Time{}, "", nil
			}
			at, _ := time.Parse(time.RFC3339Nano, c[0])
			return at, c[1], nil
		},
		SetCursor: func(_ context.Context, t polybot.ID, l string, at time.Time, key string) error {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.cursors[t.String()+"/"+l] = [2]string{at.Format(time.RFC3339Nano), key}
			return nil
		},
		Record: func(_ context.Context, t polybot.ID, r CopyRecord) error {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.records[t] = append(b.records[t], r)
			return nil
		},
	}
}

func (b *copyBook) recs(t polybot.ID) []CopyRecord {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]CopyRecord(nil), b.records[t]...)
}

const whale = "0x1111111111111111111111111111111111111111"

func copyLeader(id string, mod func(*polybot.Leader)) *polybot.Leader {
	l := &polybot.Leader{ID: id, Address: whale, Enabled: true, Mode: polybot.CopyProportional, Multiplier: d("0.5"),
		PriceGuard: d("0.02"), MaxAge: time.Minute}
	if mod != nil {
		mod(l)
	}
	return l
}

func copyUser(r *rig, mod func(*polybot.Config)) polybot.ID {
	return r.user(polybot.TierPro, func(c *polybot.Config) {
		c.EnableCopyTrading, c.EnableSinglePlatformArb, c.EnableCrossPlatformArb = true, false, false
		if mod != nil {
			mod(c)
		}
	})
}

func startCopy(r *rig, src *leaderSource, book *copyBook) *Manager {
	return r.start(Config{Strategies: []string{polybot.StrategyCopy}, Leaders: src, Copy: book.store(), CopyEvery: 20 * time.Millisecond})
}

func buyTrade(at time.Time, tx string) polybot.LeaderTrade {
	return polybot.LeaderTrade{Instrument: pmYes, Side: polybot.Buy, Price: d("0.40"), Size: d("200"), Time: at, TxHash: tx}
}

func TestTwoFollowersOfOneLeaderShareOnePollerAndSizeTheirOwnWay(t *testing.T) {
	r := newRig(t)
	r.testHubs(polybot.Polymarket)
	src := &leaderSource{trades: map[string][]polybot.LeaderTrade{}, reads: map[string]int{}}
	book := &copyBook{leaders: map[polybot.ID][]*polybot.Leader{}, cursors: map[string][2]string{}, records: map[polybot.ID][]CopyRecord{}}
	a, b := copyUser(r, nil), copyUser(r, nil)
	book.leaders[a] = []*polybot.Leader{copyLeader("whale-a", nil)}
	book.leaders[b] = []*polybot.Leader{copyLeader("whale-b", func(l *polybot.Leader) { l.Mode, l.FixedUSD = polybot.CopyFixed, d("10") })}
	m := startCopy(r, src, book)
	r.waitRunning(a, b)
	r.book(pmYes, []polybot.Level{lv("0.39", "1000")}, []polybot.Level{lv("0.41", "1000")})
	time.Sleep(100 * time.Millisecond) // both followers' cursors start now
	src.add(whale, buyTrade(time.Now(), "0xaaa"))
	// A: 0.5 × $80 = $40 at 0.41 → 97.56; B: $10 at 0.41 → 24.39.
	defer func() {
		if t.Failed() {
			t.Logf("records a %+v b %+v intents %+v", book.recs(a), book.recs(b), r.intents(a))
		}
	}()
	eventually(t, "both followers copy", func() bool {
		r.book(pmYes, []polybot.Level{lv("0.39", "1000")}, []polybot.Level{lv("0.41", "1000")}) // the desk subscribes on the trade
		return len(r.fills(a)) == 1 && len(r.fills(b)) == 1
	})
	if fa, fb := r.fills(a)[0], r.fills(b)[0]; fa.Size != d("97.56") || fb.Size != d("24.39") || fa.Price != d("0.41") ||
		fa.Strategy != polybot.StrategyCopy || fa.Mode != polybot.DryRun {
		t.Fatalf("copies %+v and %+v, want 97.56 and 24.39 at 0.41", fa, fb)
	}
	time.Sleep(200 * time.Millisecond)
	m.copy.mu.Lock()
	polls := m.copy.polls
	m.copy.mu.Unlock()
	src.mu.Lock()
	reads := src.reads[whale]
	src.mu.Unlock()
	if reads > int(polls) || reads < 5 {
		t.Fatalf("%d reads of the wallet in %d polls: one read a poll for both followers", reads, polls)
	}
	// The leader sells 50 of its 200: each follower sells a quarter.
	sell := buyTrade(time.Now(), "0xbbb")
	sell.Side, sell.Size = polybot.Sell, d("50")
	src.add(whale, sell)
	eventually(t, "a partial exit", func() bool {
		r.book(pmYes, []polybot.Level{lv("0.39", "1000")}, []polybot.Level{lv("0.41", "1000")})
		return len(r.fills(a)) == 2 && len(r.fills(b)) == 2
	})
	// The desk saw the leader buy 200: it sold a quarter of it, so A sells
	// a quarter of its 97.56 (24.39) and B of its 24.39 (6.0975 → 6.09).
	for id, want := range map[polybot.ID]string{a: "24.39", b: "6.09"} {
		if f := r.fills(id)[0]; f.Side != polybot.Sell || f.Size != d(want) {
			t.Fatalf("exit %+v, want %s sold", f, want)
		}
	}
	// The leader sells the rest: a full exit of what is left.
	rest := buyTrade(time.Now(), "0xddd")
	rest.Side, rest.Size = polybot.Sell, d("150")
	src.add(whale, rest)
	eventually(t, "a full exit", func() bool {
		r.book(pmYes, []polybot.Level{lv("0.39", "1000")}, []polybot.Level{lv("0.41", "1000")})
		return len(r.fills(a)) == 3 && len(r.fills(b)) == 3
	})
	for id, want := range map[polybot.ID]string{a: "73.17", b: "18.30"} {
		if f := r.fills(id)[0]; f.Side != polybot.Sell || f.Size != d(want) {
			t.Fatalf("full exit %+v, want the remaining %s sold", f, want)
		}
	}
}

func TestARestartDoesNotCopyATradeAgain(t *testing.T) {
	r := newRig(t)
	r.testHubs(polybot.Polymarket)
	src := &leaderSource{trades: map[string][]polybot.LeaderTrade{}, reads: map[string]int{}}
	book := &copyBook{leaders: map[polybot.ID][]*polybot.Leader{}, cursors: map[string][2]string{}, records: map[polybot.ID][]CopyRecord{}}
	a := copyUser(r, nil)
	book.leaders[a] = []*polybot.Leader{copyLeader("whale", func(l *polybot.Leader) { l.MaxAge = time.Hour })}
	startCopy(r, src, book)
	r.waitRunning(a)
	r.book(pmYes, []polybot.Level{lv("0.39", "1000")}, []polybot.Level{lv("0.41", "1000")})
	time.Sleep(100 * time.Millisecond)
	src.add(whale, buyTrade(time.Now(), "0xaaa"))
	eventually(t, "the copy", func() bool {
		r.book(pmYes, []polybot.Level{lv("0.39", "1000")}, []polybot.Level{lv("0.41", "1000")})
		return len(r.fills(a)) == 1
	})
	r.stop()

	// A new manager on the same store and cursors: the old trade is past
	// the cursor and not copied again; a new one is.
	startCopy(r, src, book)
	r.waitRunning(a)
	r.book(pmYes, []polybot.Level{lv("0.39", "1000")}, []polybot.Level{lv("0.41", "1000")})
	time.Sleep(300 * time.Millisecond)
	if n := len(r.fills(a)); n != 1 {
		t.Fatalf("%d fills after the restart: the old trade was copied again", n)
	}
	src.add(whale, buyTrade(time.Now(), "0xccc"))
	eventually(t, "the new trade copied", func() bool {
		r.book(pmYes, []polybot.Level{lv("0.39", "1000")}, []polybot.Level{lv("0.41", "1000")})
		return len(r.fills(a)) == 2
	})
}

func TestALeaderTradeTheUsersConfigForbidsIsSkippedWithAReason(t *testing.T) {
	r := newRig(t)
	r.testHubs(polybot.Polymarket)
	src := &leaderSource{trades: map[string][]polybot.LeaderTrade{}, reads: map[string]int{}}
	book := &copyBook{leaders: map[polybot.ID][]*polybot.Leader{}, cursors: map[string][2]string{}, records: map[polybot.ID][]CopyRecord{}}
	off := copyUser(r, func(c *polybot.Config) { c.EnablePolymarket = false })
	book.leaders[off] = []*polybot.Leader{copyLeader("whale", nil)}
	startCopy(r, src, book)
	r.waitRunning(off)
	r.book(pmYes, []polybot.Level{lv("0.39", "1000")}, []polybot.Level{lv("0.41", "1000")})
	time.Sleep(100 * time.Millisecond)
	src.add(whale, buyTrade(time.Now(), "0xaaa"))
	eventually(t, "the skip is recorded", func() bool { return len(book.recs(off)) == 1 })
	rec := book.recs(off)[0]
	if rec.Action != "skipped" || !strings.Contains(rec.Reason, "polymarket is off in your config") {
		t.Fatalf("record %+v", rec)
	}
	if n := len(r.fills(off)); n != 0 {
		t.Fatalf("%d fills on a venue the config turns off", n)
	}
}

// storeCopy is CopyStore over the rig's SQLite store, as cmd wires it.
func storeCopy(r *rig) CopyStore {
	return CopyStore{
		Leaders: func(tx polybot.TenantTx) ([]*polybot.Leader, error) { return tx.Leaders() },
		Cursor: func(ctx context.Context, t polybot.ID, l string) (at time.Time, key string, err error) {
			err = r.db.TenantView(ctx, t, func(tx polybot.TenantTx) error { at, key, err = tx.LeaderCursor(l); return err })
			return at, key, err
		},
		SetCursor: func(ctx context.Context, t polybot.ID, l string, at time.Time, key string) error {
			return r.db.Tenant(ctx, t, func(tx polybot.TenantTx) error { return tx.SetLeaderCursor(l, at, key) })
		},
		Record: func(ctx context.Context, t polybot.ID, rec CopyRecord) error {
			return r.db.Tenant(ctx, t, func(tx polybot.TenantTx) error {
				return tx.PutCopyRecord(&polybot.CopyRecord{LeaderID: rec.LeaderID, TradeKey: rec.Trade.Key(), LeaderSide: rec.Trade.Side,
					LeaderPrice: rec.Trade.Price, LeaderSize: rec.Trade.Size, LeaderTime: rec.Trade.Time, Action: rec.Action, Reason: rec.Reason,
					OpportunityID: rec.OpportunityID, Size: rec.Size, Price: rec.Price, At: rec.At})
			})
		},
	}
}

// TestARestartOnTheStoreDoesNotCopyAgain: the cursor persisted in SQLite
// keeps a new manager (a restart) from copying the trade again.
func TestARestartOnTheStoreDoesNotCopyAgain(t *testing.T) {
	r := newRig(t)
	r.testHubs(polybot.Polymarket)
	src := &leaderSource{trades: map[string][]polybot.LeaderTrade{}, reads: map[string]int{}}
	a := copyUser(r, nil)
	r.tenantTx(a, func(tx polybot.TenantTx) error {
		return tx.PutLeader(copyLeader("whale", func(l *polybot.Leader) { l.MaxAge = time.Hour }))
	})
	start := func() {
		r.start(Config{Strategies: []string{polybot.StrategyCopy}, Leaders: src, Copy: storeCopy(r), CopyEvery: 20 * time.Millisecond})
		r.waitRunning(a)
	}
	start()
	time.Sleep(100 * time.Millisecond)
	src.add(whale, buyTrade(time.Now(), "0xaaa"))
	eventually(t, "the copy", func() bool {
		r.book(pmYes, []polybot.Level{lv("0.39", "1000")}, []polybot.Level{lv("0.41", "1000")})
		return len(r.fills(a)) == 1
	})
	r.stop()
	start()
	for range 15 {
		r.book(pmYes, []polybot.Level{lv("0.39", "1000")}, []polybot.Level{lv("0.41", "1000")})
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(r.fills(a)); n != 1 {
		t.Fatalf("%d fills after the restart: the stored cursor did not hold", n)
	}
	var recs []*polybot.CopyRecord
	r.tenantView(a, func(tx polybot.TenantTx) (err error) { recs, err = tx.CopyRecords("whale", 10); return })
	if len(recs) != 1 || recs[0].Action != polybot.CopyCopied || recs[0].Size != d("97.56") {
		t.Fatalf("records %+v, want the one copy of 97.56", recs)
	}
}
