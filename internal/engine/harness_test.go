package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata"
	"github.com/polybot/polybot/internal/secrets"
	"github.com/polybot/polybot/internal/sqlite"
)

func d(s string) polybot.Decimal { return polybot.MustDecimal(s) }

func lv(p, s string) polybot.Level { return polybot.Level{Price: d(p), Size: d(s)} }

// A Polymarket market the dry-run tests trade (two token books).
var (
	pmYes = polybot.Instrument{Venue: polybot.Polymarket, Market: "0xfed", Token: "1001", Outcome: polybot.Yes}
	pmNo  = polybot.Instrument{Venue: polybot.Polymarket, Market: "0xfed", Token: "1002", Outcome: polybot.No}
)

// testFeed is a market feed the test drives through Hub.Handle: it never
// connects anywhere.
type testFeed struct{ p polybot.Platform }

func (f *testFeed) Platform() polybot.Platform { return f.p }
func (f *testFeed) Run(ctx context.Context, _ func(polybot.BookEvent)) error {
	<-ctx.Done()
	return nil
}
func (f *testFeed) Subscribe(context.Context, ...polybot.Instrument) error { return nil }
func (f *testFeed) Unsubscribe(...polybot.Instrument) error                { return nil }
func (f *testFeed) Resync(polybot.Instrument) error                        { return nil }

// rig is a manager over a real SQLite store in a temp dir.
type rig struct {
	t    testing.TB
	dir  string // the database and master key
	ctx  context.Context
	db   *sqlite.DB
	box  *secrets.Box
	hubs map[polybot.Platform]*marketdata.Hub
	m    *Manager

	stop func()
}

func newRig(t testing.TB) *rig {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(filepath.Join(dir, "polybot.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	kr, err := secrets.OpenKeyFile(filepath.Join(dir, "master.key"), true)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := secrets.LoadAuditKey(ctx, db, kr); err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, dir: dir, ctx: ctx, db: db, box: secrets.NewBox(kr, 0), hubs: map[polybot.Platform]*marketdata.Hub{}}
}

// testHubs gives the rig hubs the test drives by hand.
func (r *rig) testHubs(ps ...polybot.Platform) {
	for _, p := range ps {
		r.hubs[p] = marketdata.NewHub(&testFeed{p}, marketdata.HubConfig{})
	}
}

// user creates a user on tier with its config changed by mod and its bot
// enabled.
func (r *rig) user(tier string, mod func(*polybot.Config)) polybot.ID {
	r.t.Helper()
	id := polybot.NewID()
	err := r.db.Admin(r.ctx, func(tx polybot.AdminTx) error {
		tr, err := tx.Tier(tier)
		if err != nil {
			return err
		}
		email := id.String()[:8] + "@example.com"
		u := &polybot.User{ID: id, Email: email, Role: polybot.RoleUser, CreatedAt: tx.Now()}
		c := polybot.DefaultConfig(id, tx.Now())
		if mod != nil {
			mod(c)
		}
		return tx.CreateUser(u, polybot.NewProfile(id, email, tr, tx.Now()), c)
	})
	if err != nil {
		r.t.Fatal(err)
	}
	r.tenantTx(id, func(tx polybot.TenantTx) error { return tx.SetBotEnabled(true) })
	return id
}

func (r *rig) tenantTx(id polybot.ID, fn func(polybot.TenantTx) error) {
	r.t.Helper()
	if err := r.db.Tenant(r.ctx, id, fn); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) tenantView(id polybot.ID, fn func(polybot.TenantTx) error) {
	r.t.Helper()
	if err := r.db.TenantView(r.ctx, id, fn); err != nil {
		r.t.Fatal(err)
	}
}

// start runs a manager configured by cfg (Store and Hubs filled in).
func (r *rig) start(cfg Config) *Manager { return r.startWith(cfg, nil) }

// startWith is start with prep run on the manager before it runs.
func (r *rig) startWith(cfg Config, prep func(*Manager)) *Manager {
	r.t.Helper()
	cfg.Store = r.db
	if cfg.Hubs == nil {
		cfg.Hubs = r.hubs
	}
	if cfg.Secrets == nil {
		cfg.Secrets = r.box
	}
	if cfg.RestartMin == 0 {
		cfg.RestartMin = 10 * time.Millisecond
	}
	m, err := New(cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	r.m = m
	if prep != nil {
		prep(m)
	}
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := m.Run(ctx); err != nil {
			r.t.Error(err)
		}
	}()
	var once sync.Once
	r.stop = func() { once.Do(func() { cancel(); <-done }) }
	r.t.Cleanup(r.stop)
	return m
}

// waitRunning waits until every tenant's bot runs and is in the index.
func (r *rig) waitRunning(ids ...polybot.ID) {
	r.t.Helper()
	eventually(r.t, "the bots run and are indexed", func() bool {
		for _, id := range ids {
			if r.m.Status(context.Background(), id).State != polybot.BotRunning {
				return false
			}
		}
		return r.m.index.Load().tenants >= len(ids)
	})
}

// book publishes a snapshot of inst's book to its hub.
func (r *rig) book(inst polybot.Instrument, bids, asks []polybot.Level) {
	r.hubs[inst.Venue].Handle(polybot.BookEvent{Kind: polybot.BookSnapshot, Instrument: inst, Bids: bids, Asks: asks,
		Time: time.Now(), Received: time.Now()})
}

func (r *rig) fills(id polybot.ID) []*polybot.TradeFill {
	r.t.Helper()
	var out []*polybot.TradeFill
	r.tenantView(id, func(tx polybot.TenantTx) (err error) { out, err = tx.Fills(time.Time{}, 1000); return })
	return out
}

func (r *rig) intents(id polybot.ID) []*polybot.Intent {
	r.t.Helper()
	var out []*polybot.Intent
	r.tenantView(id, func(tx polybot.TenantTx) (err error) { out, err = tx.Intents(nil, time.Time{}, 1000); return })
	return out
}

// eventually polls cond for up to 10 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
