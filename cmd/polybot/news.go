package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"sync"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/engine"
	"github.com/polybot/polybot/internal/news"
	"github.com/polybot/polybot/internal/secrets"
	"github.com/polybot/polybot/internal/server"
	venuenews "github.com/polybot/polybot/internal/venuesim/news"
)

// newsWiring connects news arbitrage: the store's enabled feeds polled
// (internal/news Poller) and the users' signed webhooks (the server's
// NewsIntake) feed one pipeline (de-duplication per owner), whose new
// headlines go to the engine first (the latency clock is running) and
// then to the store (the platform's, or the owner's own).
type newsWiring struct {
	only   polybot.ID // a tenant's own process: its feeds and the platform's; it keeps only its own headlines
	st     polybot.Store
	m      *engine.Manager
	pipe   *news.Pipeline
	poller *news.Poller
	seen   *news.MemoryReplayCache
	log    *slog.Logger

	mu     sync.RWMutex
	owners map[string]polybot.ID // source (feed or hook id) → owner; absent: the platform
}

var _ server.NewsIntake = (*newsWiring)(nil)

// feedRefresh is how often the feed list is re-read from the store (a
// user's or an admin's change takes effect within it).
const feedRefresh = 15 * time.Second

func startNews(ctx context.Context, run func(func() error), st polybot.Store, m *engine.Manager, only polybot.ID, allowPrivate bool, log *slog.Logger) (*newsWiring, error) {
	w := &newsWiring{only: only, st: st, m: m, seen: news.NewMemoryReplayCache(100_000), log: log.With("component", "news"), owners: map[string]polybot.ID{}}
	w.pipe = news.NewPipeline(news.PipelineConfig{Sink: w.sink, Owner: w.owner, Logger: log})
	w.poller = &news.Poller{AllowPrivate: allowPrivate, OnValidators: w.validators, Logger: log}
	if err := w.refresh(ctx); err != nil {
		return nil, err
	}
	run(func() error { return w.pipe.Run(ctx, w.poller) })
	run(func() error {
		t := time.NewTicker(feedRefresh)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
				if err := w.refresh(ctx); err != nil && ctx.Err() == nil {
					w.log.Warn("reading the news feeds", "err", err)
				}
			}
		}
	})
	return w, nil
}

// refresh reads every enabled feed with its owner and hands the list to
// the poller.
func (w *newsWiring) refresh(ctx context.Context) error {
	var feeds []*polybot.NewsFeed
	if err := w.st.AdminView(ctx, func(tx polybot.AdminTx) error {
		var err error
		feeds, err = tx.EnabledNewsFeeds()
		return err
	}); err != nil {
		return err
	}
	list := make([]polybot.NewsFeed, 0, len(feeds))
	w.mu.Lock()
	for _, f := range feeds {
		if w.only != polybot.NilID && f.UserID != polybot.NilID && f.UserID != w.only {
			continue // another tenant's feed: a tenant's own process polls only its tenant's
		}
		list = append(list, *f)
		if f.UserID != polybot.NilID {
			w.owners[f.ID] = f.UserID
		}
	}
	w.mu.Unlock()
	w.poller.SetFeeds(list)
	return nil
}

func (w *newsWiring) owner(source string) polybot.ID {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.owners[source]
}

// sink hands a new headline to the engine, then keeps it.
func (w *newsWiring) sink(h polybot.Headline) {
	owner := w.owner(h.Source)
	if owner == polybot.NilID {
		w.m.Headline(h)
	} else {
		w.m.TenantHeadline(owner, h)
	}
	if owner == polybot.NilID && w.only != polybot.NilID {
		return // the worker polls the platform's feeds too, and keeps what they bring
	}
	ctx := context.Background()
	var err error
	if owner == polybot.NilID {
		err = w.st.Admin(ctx, func(tx polybot.AdminTx) error { return tx.PutHeadline(&h) })
	} else {
		err = w.st.Tenant(ctx, owner, func(tx polybot.TenantTx) error { return tx.PutHeadline(&h) })
	}
	if err != nil {
		w.log.Warn("keeping a headline", "source", h.Source, "err", err)
	}
}

// validators stores a feed's ETag and Last-Modified on the path that owns
// it.
func (w *newsWiring) validators(feedID, etag, lastModified string) {
	ctx := context.Background()
	var err error
	if owner := w.owner(feedID); owner != polybot.NilID {
		err = w.st.Tenant(ctx, owner, func(tx polybot.TenantTx) error { return tx.SetFeedValidators(feedID, etag, lastModified) })
	} else {
		err = w.st.Admin(ctx, func(tx polybot.AdminTx) error { return tx.SetFeedValidators(feedID, etag, lastModified) })
	}
	if err != nil {
		w.log.Warn("storing a feed's validators", "feed", feedID, "err", err)
	}
}

// VerifyAndParse implements server.NewsIntake: the HMAC of ts.body under
// the hook's secret (internal/news), then the body's headlines.
func (w *newsWiring) VerifyAndParse(secret []byte, ts, sig string, body []byte, now time.Time) ([]polybot.Headline, error) {
	if err := news.VerifyWebhook(secret, ts, sig, body, now, w.seen); err != nil {
		return nil, err
	}
	return news.ParseWebhook(body, "", "", now)
}

// Deliver implements server.NewsIntake: the hook's headlines are the
// tenant's own.
func (w *newsWiring) Deliver(_ context.Context, tenant polybot.ID, hs []polybot.Headline) error {
	for _, h := range hs {
		w.fromHook(tenant, h)
	}
	return nil
}

// fromHook takes one of the tenant's webhook headlines: received here
// (Deliver), or on an api node and taken from the bus by this worker
// (engine.Config.BusHeadline). The pipeline de-duplicates it, hands it to
// the engine and keeps it (the api node kept it already: storing it again
// changes nothing).
func (w *newsWiring) fromHook(tenant polybot.ID, h polybot.Headline) {
	w.mu.Lock()
	w.owners[h.Source] = tenant
	w.mu.Unlock()
	w.pipe.Handle(h)
}

// apiNewsIntake is an api node's webhook intake (serve --role api). The
// node runs no news desk: it posts each verified headline on the bus,
// where the worker running the tenant takes it into its own pipeline
// (engine.Manager.PostHeadlines, Config.BusHeadline), and keeps it as the
// tenant's own for the News page. With the bus down it declines the
// delivery (EUNAVAILABLE), and the server forgets the delivery's
// signature so that the sender may send it again; the server's replay
// guard is the only one here, since one in the intake would refuse that
// retry.
type apiNewsIntake struct {
	st polybot.Store
	m  *engine.Manager
}

var _ server.NewsIntake = (*apiNewsIntake)(nil)

// VerifyAndParse implements server.NewsIntake.
func (a *apiNewsIntake) VerifyAndParse(secret []byte, ts, sig string, body []byte, now time.Time) ([]polybot.Headline, error) {
	if err := news.VerifyWebhook(secret, ts, sig, body, now, serverReplayGuard{}); err != nil {
		return nil, err
	}
	return news.ParseWebhook(body, "", "", now)
}

// Deliver implements server.NewsIntake: posted first (the latency clock
// runs), then kept. A headline posted before, by this or another api
// node, is not posted again.
func (a *apiNewsIntake) Deliver(ctx context.Context, tenant polybot.ID, hs []polybot.Headline) error {
	for i := range hs {
		if hs[i].ID == "" {
			news.SetHeadlineID(&hs[i])
		}
	}
	if err := a.m.PostHeadlines(ctx, tenant, hs); err != nil {
		return err
	}
	return a.st.Tenant(ctx, tenant, func(tx polybot.TenantTx) error {
		for i := range hs {
			if err := tx.PutHeadline(&hs[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// serverReplayGuard is the api node's news.ReplayCache: it records
// nothing, because the server's replay guard (which forgets a declined
// delivery) refuses replays.
type serverReplayGuard struct{}

func (serverReplayGuard) Add(string, time.Time, time.Time) error { return nil }

// engineNewsConfig is the engine's access to the store for news: a
// tenant's rules, and the record of what they did.
func engineNewsConfig(st polybot.Store) (func(polybot.TenantTx) ([]*polybot.NewsRule, error), func(context.Context, engine.NewsFire) error) {
	rules := func(tx polybot.TenantTx) ([]*polybot.NewsRule, error) { return tx.NewsRules() }
	fires := func(ctx context.Context, f engine.NewsFire) error {
		if f.HeadlineID == "" {
			return nil
		}
		return st.Tenant(ctx, f.Tenant, func(tx polybot.TenantTx) error {
			return tx.PutNewsFire(&polybot.NewsFire{RuleID: f.RuleID, HeadlineID: f.HeadlineID, At: f.At, Action: f.Action,
				OpportunityID: f.OpportunityID, LatencyMicros: f.Latency.Microseconds()})
		})
	}
	return rules, fires
}

// simNewsFeedID is the simulator's feed in the platform's feed list.
const simNewsFeedID = "sim-news"

// seedSimNews lists the simulator's RSS feed as a platform feed (its
// headlines show on every News page), and gives the demo user the demo
// rule and a webhook: the simulator's poster signs each headline as it
// appears and posts it there at once (a feed is polled every 30 s at
// best, and the replay plays half an hour of the market in 50 ms). The
// hook's secret is new on every start. It returns the hook's id and
// secret.
func seedSimNews(ctx context.Context, st polybot.Store, box *secrets.Box, demo polybot.ID, rssURL string) (string, []byte, error) {
	if rssURL != "" {
		err := st.Admin(ctx, func(tx polybot.AdminTx) error {
			return tx.PutNewsFeed(&polybot.NewsFeed{ID: simNewsFeedID, Name: "Simulated news (real headlines, replayed)", URL: rssURL,
				Every: polybot.MinFeedInterval, Enabled: true})
		})
		if err != nil {
			return "", nil, err
		}
	}
	hookID := "demo-" + demo.String()[:8]
	secret := make([]byte, 32)
	rand.Read(secret)
	secret = []byte("pbwh_" + base64.RawURLEncoding.EncodeToString(secret))
	err := st.Tenant(ctx, demo, func(tx polybot.TenantTx) error {
		for _, r := range []*polybot.NewsRule{demoNewsRule(), demoEquityRule()} {
			if _, err := tx.NewsRule(r.ID); polybot.ErrorCode(err) == polybot.ENOTFOUND {
				if err := tx.PutNewsRule(r); err != nil {
					return err
				}
			} else if err != nil {
				return err
			}
		}
		if _, err := tx.NewsHook(hookID); err == nil {
			if err := tx.DeleteNewsHook(hookID); err != nil {
				return err
			}
		}
		sealed, err := box.SealNewsHook(ctx, tx, hookID, secret)
		if err != nil {
			return err
		}
		return tx.PutNewsHook(&polybot.NewsHook{ID: hookID, Name: "Simulated news (the simulator's poster)", Sealed: sealed})
	})
	return hookID, secret, err
}

// demoEquityRule is the demo's rule with an Alpaca action: a rate-cut
// headline buys a share of TLT (long Treasuries gain when rates are
// expected to fall), exited after a minute, or on a 0.2% move either way.
func demoEquityRule() *polybot.NewsRule {
	r := &polybot.NewsRule{ID: "demo-rate-cut-tlt", Name: "Rate-cut headline: buy TLT on Alpaca", Enabled: true,
		AnyOf: []string{"rate cut"}, Mode: polybot.NewsEquity,
		Equity: &polybot.EquityOrder{Venue: polybot.Alpaca, Symbol: simEquitySymbol, Side: polybot.EquityBuy,
			Quantity: polybot.One, MaxPrice: polybot.MustDecimal("91.00")},
		Cooldown: 5 * time.Minute, TimeStop: time.Minute, TakeProfit: polybot.MustDecimal("0.002"), StopLoss: polybot.MustDecimal("0.002")}
	_ = r.Validate() // fills in the window
	return r
}

// postSimNews points the simulator's poster at serve's own webhook.
func postSimNews(s *venuenews.Server, baseURL, hookID string, secret []byte) error {
	return s.SetWebhook(venuenews.Webhook{URL: baseURL + "/api/v1/news/hooks/" + hookID, Secret: secret})
}
