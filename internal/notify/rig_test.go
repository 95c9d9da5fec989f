package notify_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/notify"
	"github.com/polybot/polybot/internal/postgres/pgtest"
	"github.com/polybot/polybot/internal/secrets"
	"github.com/polybot/polybot/internal/sqlite"
	"github.com/polybot/polybot/internal/storetest"
)

// T0 is 07:30:45 in New York on 15 January 2030.
var T0 = storetest.T0

type rig struct {
	t     testing.TB
	ctx   context.Context
	dir   string
	db    polybot.Store
	clock *storetest.Clock
	box   *secrets.Box
	user  polybot.ID
	d     *notify.Dispatcher
	cfg   notify.Config // d's
	keys  *secrets.Keyring
}

// newRig opens a SQLite store in dir (a fresh one if dir is "") on a
// settable clock at T0, with one user in New York, and a dispatcher
// configured by cfg over the given senders.
func newRig(t testing.TB, dir string, cfg func(*notify.Config)) *rig {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	clock := storetest.NewClock(T0)
	db, err := sqlite.Open(filepath.Join(dir, "polybot.db"), clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return rigOn(t, db, clock, dir, cfg)
}

// newPostgresRig is newRig on a fresh PostgreSQL database (skipped when
// the server is unreachable, as pgtest says); more opens another store on
// the same database, as another node would.
func newPostgresRig(t testing.TB, cfg func(*notify.Config)) (r *rig, more func() polybot.Store) {
	t.Helper()
	clock := storetest.NewClock(T0)
	pg := pgtest.NewDatabase(t)
	r = rigOn(t, pg.Open(t, clock.Now), clock, t.TempDir(), cfg)
	return r, func() polybot.Store {
		st := pg.Open(t, clock.Now)
		if _, _, err := secrets.LoadAuditKey(r.ctx, st, r.keys); err != nil {
			t.Fatal(err)
		}
		return st
	}
}

// rigOn is a rig on st, whose clock is clock, keeping its master key in
// dir.
func rigOn(t testing.TB, st polybot.Store, clock *storetest.Clock, dir string, cfg func(*notify.Config)) *rig {
	t.Helper()
	ctx := context.Background()
	kr, err := secrets.OpenKeyFile(filepath.Join(dir, "master.key"), true)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := secrets.LoadAuditKey(ctx, st, kr); err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, ctx: ctx, dir: dir, db: st, clock: clock, box: secrets.NewBox(kr, 0), keys: kr}
	c := notify.Config{Store: st, Box: r.box, Clock: clock.Now, Senders: map[string]notify.Sender{},
		Backoff: time.Second, MaxBackoff: time.Minute, Lease: time.Minute, SendTimeout: 2 * time.Second, Rate: 1000, Burst: 1000,
		BaseURL: "http://polybot.test"}
	if cfg != nil {
		cfg(&c)
	}
	r.cfg = c
	r.d = notify.New(c)
	return r
}

// addUser creates a user (free tier, New York time) and makes it the rig's.
func (r *rig) addUser(email string) polybot.ID {
	r.t.Helper()
	id := polybot.NewID()
	err := r.db.Admin(r.ctx, func(tx polybot.AdminTx) error {
		tier, err := tx.Tier(polybot.TierFree)
		if err != nil {
			return err
		}
		c := polybot.DefaultConfig(id, tx.Now())
		c.Timezone = "America/New_York"
		return tx.CreateUser(&polybot.User{ID: id, Email: email, Role: polybot.RoleUser, CreatedAt: tx.Now()},
			polybot.NewProfile(id, email, tier, tx.Now()), c)
	})
	if err != nil {
		r.t.Fatal(err)
	}
	r.user = id
	return id
}

func (r *rig) tenant(fn func(tx polybot.TenantTx) error) {
	r.t.Helper()
	if err := r.db.Tenant(r.ctx, r.user, fn); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) deliveries() []*polybot.NotifyDelivery {
	r.t.Helper()
	var out []*polybot.NotifyDelivery
	if err := r.db.TenantView(r.ctx, r.user, func(tx polybot.TenantTx) (err error) {
		out, err = tx.NotifyDeliveries(polybot.NotifyDeliveryFilter{Limit: 1000})
		return err
	}); err != nil {
		r.t.Fatal(err)
	}
	return out
}

// fill records a dry-run fill of Kalshi's KX-1 YES.
func (r *rig) fill(id string, side polybot.Side, price, fee string) {
	r.t.Helper()
	r.tenant(func(tx polybot.TenantTx) error {
		_, err := polybot.RecordFill(tx, &polybot.TradeFill{Venue: polybot.Kalshi, TradeID: id, Strategy: polybot.StrategySinglePlatform,
			Mode: polybot.DryRun, Instrument: polybot.Instrument{Venue: polybot.Kalshi, Market: "KX-1", Outcome: polybot.Yes}, Side: side,
			Price: polybot.MustDecimal(price), Size: polybot.MustDecimal("10"), Fee: polybot.MustDecimal(fee), Time: tx.Now()}, nil)
		return err
	})
}

// alert queues an always-sent event.
func (r *rig) alert(id string) {
	r.t.Helper()
	r.tenant(func(tx polybot.TenantTx) error {
		c, err := tx.Config()
		if err != nil {
			return err
		}
		_, err = polybot.Notify(tx, c, polybot.AlertEvent(polybot.NotifyBotHalted, id, "Halted "+id, "test alert "+id, tx.Now()))
		return err
	})
}

func (r *rig) drain() int {
	r.t.Helper()
	n, err := r.d.Drain(r.ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	return n
}

// webhook adds a verified webhook destination to url and returns it with
// its signing secret.
func (r *rig) webhook(url string, events ...string) (*polybot.NotifyDestination, string) {
	r.t.Helper()
	d, secret, err := r.d.CreateDestination(r.ctx, r.user, &polybot.NotifyDestinationInput{Channel: polybot.ChannelWebhook, Name: "hook", URL: url, Events: events})
	if err != nil {
		r.t.Fatal(err)
	}
	return d, secret
}
