package news

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/polybot/polybot"
)

// DefaultRecent is how many headlines a Pipeline keeps for Recent.
const DefaultRecent = 500

// PipelineConfig configures a Pipeline; zero fields take defaults.
type PipelineConfig struct {
	// Sink receives each new headline (the engine). It is called from the
	// sources' goroutines, possibly concurrently, and should not block.
	Sink func(polybot.Headline)
	// Owner says whose a source is: polybot.NilID for the platform's
	// feeds (every user's rules see them), a user's id for that user's
	// feeds and webhooks. nil: every source is the platform's.
	Owner func(source string) polybot.ID
	// Deduper; nil: NewDeduper(DefaultRetention, DefaultMaxKeys).
	Deduper *Deduper
	// Keep is the size of the Recent ring (≤ 0: DefaultRecent).
	Keep   int
	Now    polybot.Clock
	Logger *slog.Logger
}

// Pipeline fans headlines from several sources into one stream: it stamps
// Received (when the source did not) and the ID, drops what
// Headline.Validate refuses and what the Deduper has seen, keeps the last
// Keep new headlines for Recent, and hands each new one to the sink.
type Pipeline struct {
	cfg PipelineConfig

	mu   sync.Mutex
	ring []recent // the last Keep new headlines; next is the oldest once full
	next int
}

type recent struct {
	h     polybot.Headline
	owner polybot.ID
}

// NewPipeline returns a Pipeline.
func NewPipeline(cfg PipelineConfig) *Pipeline {
	if cfg.Sink == nil {
		cfg.Sink = func(polybot.Headline) {}
	}
	if cfg.Owner == nil {
		cfg.Owner = func(string) polybot.ID { return polybot.NilID }
	}
	if cfg.Deduper == nil {
		cfg.Deduper = NewDeduper(0, 0)
	}
	if cfg.Keep <= 0 {
		cfg.Keep = DefaultRecent
	}
	if cfg.Now == nil {
		cfg.Now = polybot.SystemClock
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Pipeline{cfg: cfg, ring: make([]recent, 0, cfg.Keep)}
}

// Run runs the sources until ctx ends, each delivering to Handle. A source
// that fails is logged and the others go on; Run returns when every source
// has returned (ctx ended), with the errors of the sources that returned
// anything but ctx's own error (nil when none did).
func (p *Pipeline) Run(ctx context.Context, sources ...polybot.NewsSource) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for i, s := range sources {
		wg.Go(func() {
			err := s.Run(ctx, func(h polybot.Headline) { p.Handle(h) })
			if err != nil && (ctx.Err() == nil || !errors.Is(err, ctx.Err())) {
				p.cfg.Logger.Error("news source stopped", "source", i, "err", err)
				mu.Lock()
				errs = append(errs, fmt.Errorf("news source %d: %w", i, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Handle takes one headline from a source (the webhook handler calls it
// directly) and reports whether it was new and handed to the sink.
func (p *Pipeline) Handle(h polybot.Headline) bool {
	now := p.cfg.Now()
	if h.Received.IsZero() {
		h.Received = now
	}
	if h.ID == "" {
		SetHeadlineID(&h)
	}
	if err := h.Validate(); err != nil {
		p.cfg.Logger.Warn("news headline refused", "source", h.Source, "err", err)
		return false
	}
	owner := p.cfg.Owner(h.Source)
	if !p.cfg.Deduper.Add(owner, &h, now) {
		return false
	}
	p.mu.Lock()
	if len(p.ring) < p.cfg.Keep {
		p.ring = append(p.ring, recent{h, owner})
	} else {
		p.ring[p.next] = recent{h, owner}
		p.next = (p.next + 1) % p.cfg.Keep
	}
	p.mu.Unlock()
	p.cfg.Sink(h)
	return true
}

// Recent returns the last n new headlines of every owner, oldest first. It
// is the platform's view: a user's page uses RecentFor.
func (p *Pipeline) Recent(n int) []polybot.Headline {
	return p.recent(n, func(polybot.ID) bool { return true })
}

// RecentFor returns the last n new headlines user may see, oldest first:
// the platform's and the user's own.
func (p *Pipeline) RecentFor(user polybot.ID, n int) []polybot.Headline {
	return p.recent(n, func(o polybot.ID) bool { return o == polybot.NilID || o == user })
}

func (p *Pipeline) recent(n int, keep func(polybot.ID) bool) []polybot.Headline {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []polybot.Headline
	for i := len(p.ring) - 1; i >= 0 && len(out) < n; i-- {
		r := p.ring[(p.next+i)%len(p.ring)]
		if keep(r.owner) {
			out = append(out, r.h)
		}
	}
	slices.Reverse(out)
	return out
}

// RuleHit is a headline a rule matched when replayed by TestRule.
type RuleHit struct {
	Headline polybot.Headline `json:"headline"`
	// Fired: the rule would have acted on it. false: it matched within the
	// cooldown of an earlier fire, which ended at CooldownUntil.
	Fired         bool      `json:"fired"`
	CooldownUntil time.Time `json:"cooldown_until,omitzero"`
}

// TestRule replays headlines through rule in order of receipt (ties in
// the order given) and returns those it matches (rule.Matches): each one
// fires unless it came within the rule's Cooldown of the last fire (a
// headline received exactly when the cooldown ends fires). It ignores
// whether the rule is enabled, its window and its markets, which only the
// engine can judge.
func TestRule(rule *polybot.NewsRule, hs []polybot.Headline) []RuleHit {
	order := slices.Clone(hs)
	slices.SortStableFunc(order, func(a, b polybot.Headline) int { return a.Received.Compare(b.Received) })
	var (
		hits     []RuleHit
		lastFire time.Time
		fired    bool
	)
	for i := range order {
		h := &order[i]
		if !rule.Matches(h) {
			continue
		}
		if fired && rule.Cooldown > 0 {
			if until := lastFire.Add(rule.Cooldown); h.Received.Before(until) {
				hits = append(hits, RuleHit{Headline: *h, CooldownUntil: until})
				continue
			}
		}
		hits = append(hits, RuleHit{Headline: *h, Fired: true})
		lastFire, fired = h.Received, true
	}
	return hits
}
