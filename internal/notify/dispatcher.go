package notify

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/secrets"
)

// Config configures a Dispatcher.
type Config struct {
	Store   polybot.Store
	Box     *secrets.Box
	Senders map[string]Sender // by channel
	// Valuer values holdings for the daily summary as the dashboard does
	// (nil: at cost).
	Valuer polybot.Valuer
	Logger *slog.Logger
	Clock  polybot.Clock
	// BaseURL is the server's public URL, for confirmation links and the
	// settings link in emails ("" leaves them out).
	BaseURL string

	// MaxAttempts is how many sends a delivery gets before it is dead
	// (default 8).
	MaxAttempts int
	// Backoff is the wait after the first failure, doubled after each
	// further one up to MaxBackoff, then jittered down by up to half
	// (defaults 30s and 1h).
	Backoff, MaxBackoff time.Duration
	// Lease is how long a claimed delivery is held: a process that dies
	// mid-send leaves it due again after the lease, and the resend carries
	// the same idempotency key (default 2m; longer than SendTimeout).
	Lease time.Duration
	// SendTimeout bounds one send (default 30s).
	SendTimeout time.Duration
	// Poll is how often the outbox is read (default 1s).
	Poll time.Duration
	// Workers is how many batches are sent at once (default 4), and Batch
	// how many of a tenant's deliveries one batch claims in one write
	// transaction and sends in parallel (default 25). Fewer, larger
	// batches hold SQLite's single writer, which trading needs, less often.
	Workers, Batch int
	// Rate and Burst limit the sends to each destination (default five a
	// second, bursts of 20: an active bot's trades keep up): a waiting
	// delivery is rescheduled, not failed.
	Rate  rate.Limit
	Burst int
	// DigestWindow is how often at most opportunities are digested into
	// one notification per tenant (default 15m).
	DigestWindow time.Duration
	// SummaryEvery is how often the daily-summary clock is checked
	// (default 1m).
	SummaryEvery time.Duration
}

// Dispatcher drains the outbox: it sends each due delivery on its channel,
// retries failures with backoff and jitter, and marks a delivery dead
// after MaxAttempts. It is also the engine's polybot.NotifyHook (the
// opportunity digest and bot alerts) and sends the daily summaries. Run
// does all of it; RunHooks only the hooks, which write to the outbox
// that another process's Run delivers.
type Dispatcher struct {
	cfg Config
	log *slog.Logger
	now polybot.Clock

	mu       sync.Mutex
	limiters map[string]*rate.Limiter
	inflight map[polybot.NotifyDue]bool
	kick     chan struct{}

	hooks   chan hookEvent
	dropped atomic.Int64
	// beforeClaim, if set, is called with each batch between its read and
	// its claim (tests: it makes two dispatchers' claims overlap).
	beforeClaim func([]polybot.NotifyDue)
	// Sent and Failed count sends, and Queued the digests and alerts the
	// hooks wrote to the outbox, each once whether it added deliveries or
	// found them queued already (for tests and metrics).
	Sent, Failed, Queued atomic.Int64
}

// New returns a Dispatcher; Run starts it.
func New(cfg Config) *Dispatcher {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Clock = clockOr(cfg.Clock)
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Backoff, 30*time.Second)
	def(&cfg.MaxBackoff, time.Hour)
	def(&cfg.Lease, 2*time.Minute)
	def(&cfg.SendTimeout, 30*time.Second)
	def(&cfg.Poll, time.Second)
	def(&cfg.DigestWindow, 15*time.Minute)
	def(&cfg.SummaryEvery, time.Minute)
	if cfg.SendTimeout >= cfg.Lease {
		cfg.SendTimeout = cfg.Lease / 2
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 25
	}
	if cfg.Rate == 0 {
		cfg.Rate, cfg.Burst = 5, 20
	}
	if cfg.Burst <= 0 {
		cfg.Burst = 1
	}
	return &Dispatcher{cfg: cfg, log: cfg.Logger, now: cfg.Clock, limiters: map[string]*rate.Limiter{},
		inflight: map[polybot.NotifyDue]bool{}, kick: make(chan struct{}, 1), hooks: make(chan hookEvent, 1024)}
}

// SetValuer sets Config.Valuer; call it before Run.
func (d *Dispatcher) SetValuer(v polybot.Valuer) { d.cfg.Valuer = v }

// SetBaseURL sets Config.BaseURL; call it before Run.
func (d *Dispatcher) SetBaseURL(u string) { d.cfg.BaseURL = strings.TrimRight(u, "/") }

// Kick makes the dispatcher read the outbox now.
func (d *Dispatcher) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Run drains the outbox, digests opportunities, turns bot states into
// alerts and sends daily summaries until ctx ends: all of notifications,
// in a process that serves the API (serve --role all or api).
func (d *Dispatcher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { d.runHooks(ctx) })
	wg.Go(func() { d.runSummaries(ctx) })
	sem := make(chan struct{}, d.cfg.Workers)
	tick := time.NewTicker(d.cfg.Poll)
	defer tick.Stop()
	for {
		due, err := d.due(ctx)
		if err != nil && ctx.Err() == nil {
			d.log.Error("reading the notification outbox", "err", err)
		}
		for _, batch := range byTenant(due, d.cfg.Batch) {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				d.done(batch)
				continue
			}
			wg.Go(func() {
				defer func() { <-sem; d.done(batch) }()
				if err := d.deliver(ctx, batch); err != nil && ctx.Err() == nil {
					d.log.Error("notification delivery", "tenant", batch[0].UserID, "err", err)
				}
			})
		}
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-tick.C:
		case <-d.kick:
		}
	}
}

// RunHooks runs only the hook side until ctx ends: the opportunity
// digest and the alerts of refused and halted bots, written to the outbox
// in the store. A gateway (whose dispatcher offers opportunities) and a
// worker (whose runners are refused or halted) run it, and the api nodes'
// Run sends what they queue; so sends and daily summaries come from the
// api nodes alone. Their events' ids name the happening, so two processes
// that hear the same one (a gateway and a worker both see a bot halted)
// queue it once.
func (d *Dispatcher) RunHooks(ctx context.Context) error {
	d.runHooks(ctx)
	return nil
}

// due lists due deliveries not already being sent, marking them in flight.
func (d *Dispatcher) due(ctx context.Context) ([]polybot.NotifyDue, error) {
	var all []polybot.NotifyDue
	err := d.cfg.Store.AdminView(ctx, func(tx polybot.AdminTx) (err error) {
		all, err = tx.DueNotifyDeliveries(100)
		return err
	})
	d.mu.Lock()
	defer d.mu.Unlock()
	out := all[:0]
	for _, x := range all {
		if !d.inflight[x] {
			d.inflight[x] = true
			out = append(out, x)
		}
	}
	return out, err
}

func (d *Dispatcher) done(xs []polybot.NotifyDue) {
	d.mu.Lock()
	for _, x := range xs {
		delete(d.inflight, x)
	}
	d.mu.Unlock()
}

// byTenant groups due deliveries by tenant, keeping their order, in
// batches of at most n: a batch is claimed at once and sent in parallel,
// so all of it is sent well within the lease.
func byTenant(due []polybot.NotifyDue, n int) [][]polybot.NotifyDue {
	idx := map[polybot.ID]int{}
	var out [][]polybot.NotifyDue
	for _, x := range due {
		i, ok := idx[x.UserID]
		if !ok || len(out[i]) >= n {
			i = len(out)
			idx[x.UserID] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], x)
	}
	return out
}

// Drain delivers every delivery due now, one after another, and returns
// how many it tried (tests; Run is the service).
func (d *Dispatcher) Drain(ctx context.Context) (int, error) {
	due, err := d.due(ctx)
	defer d.done(due)
	for _, batch := range byTenant(due, d.cfg.Batch) {
		if e := d.deliver(ctx, batch); e != nil && err == nil {
			err = e
		}
	}
	return len(due), err
}

func (d *Dispatcher) limiter(tenant polybot.ID, dest string) *rate.Limiter {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := tenant.String() + "/" + dest
	l := d.limiters[k]
	if l == nil {
		if len(d.limiters) > 100_000 {
			clear(d.limiters)
		}
		l = rate.NewLimiter(d.cfg.Rate, d.cfg.Burst)
		d.limiters[k] = l
	}
	return l
}

// job is one delivery being attempted.
type job struct {
	seen *polybot.NotifyDelivery // as read before the claim
	dest *polybot.NotifyDestination
	to   Target
	msg  *Message
	dead string // why it is dead without a send
	err  error  // the send's outcome
	sent bool   // claimed and sent (ok or not)
}

// deliver makes one attempt at each of one tenant's due deliveries. To
// hold SQLite's single writer (which trading needs) as briefly as it can,
// it reads the deliveries, their destinations and secrets in a read-only
// transaction; claims them all in one write transaction (attempts+1, held
// for the lease; a delivery the destination's rate limit holds back is
// rescheduled without an attempt); sends them in parallel outside any
// transaction; and records every outcome in one more. A batch is at most
// Batch deliveries (byTenant), all sent at once, and Run runs at most
// Workers batches at once: all of a batch is sent within one SendTimeout
// of its claim, well inside the lease.
func (d *Dispatcher) deliver(ctx context.Context, batch []polybot.NotifyDue) error {
	tenant := batch[0].UserID
	var jobs []*job
	err := d.cfg.Store.TenantView(ctx, tenant, func(tx polybot.TenantTx) error {
		dests := map[string]*polybot.NotifyDestination{}
		for _, x := range batch {
			cur, err := tx.NotifyDelivery(x.ID)
			if polybot.ErrorCode(err) == polybot.ENOTFOUND {
				continue // its destination was deleted
			}
			if err != nil {
				return err
			}
			if cur.State != polybot.DeliveryPending || cur.NextAt.After(tx.Now()) {
				continue
			}
			j := &job{seen: cur}
			jobs = append(jobs, j)
			if j.dest = dests[cur.DestinationID]; j.dest == nil {
				if j.dest, err = tx.NotifyDestination(cur.DestinationID); err != nil {
					return err
				}
				dests[cur.DestinationID] = j.dest
			}
			var ev polybot.NotifyEvent
			switch {
			case !j.dest.Enabled || !j.dest.Verified():
				j.dead = "the destination is off or not verified"
			case d.cfg.Senders[j.dest.Channel] == nil:
				j.dead = "the " + j.dest.Channel + " channel is not configured on this server"
			case json.Unmarshal(cur.Payload, &ev) != nil:
				j.dead = "the stored event is not readable"
			}
			if j.dead != "" {
				continue
			}
			if j.to, err = d.open(ctx, tx, j.dest); err != nil {
				return err
			}
			if j.msg, err = Render(cur.Key, &ev, "", d.settingsURL()); err != nil {
				return polybot.Internal(err)
			}
		}
		return nil
	})
	defer func() {
		for _, j := range jobs {
			j.to.clear()
		}
	}()
	if err != nil || len(jobs) == 0 {
		return err
	}
	if d.beforeClaim != nil {
		d.beforeClaim(batch)
	}
	// Claim. Each delivery is claimed only if it is still as read above
	// (SwapNotifyDelivery): another dispatcher (a second api node) that
	// read it too and claimed it first, or a redelivery since, leaves it to
	// them. A compare-and-swap rather than TenantTx.LockTenant: the
	// tenant's lock is the risk gate's and the lease claim's row, and a
	// notification claim should neither wait for trading nor make it wait.
	err = d.cfg.Store.Tenant(ctx, tenant, func(tx polybot.TenantTx) error {
		now := tx.Now()
		for _, j := range jobs {
			j.sent = false
			next := *j.seen
			var sendSlot *rate.Reservation
			switch {
			case j.dead != "":
				next.State, next.LastError = polybot.DeliveryDead, j.dead
			default:
				r := d.limiter(tenant, j.dest.ID).ReserveN(now, 1)
				if wait := r.DelayFrom(now); wait > 0 {
					r.CancelAt(now)
					next.NextAt = now.Add(wait)
					break
				}
				sendSlot = r
				next.Attempts++
				next.NextAt = now.Add(d.cfg.Lease)
			}
			ok, err := tx.SwapNotifyDelivery(j.seen, &next)
			if err != nil {
				return err
			}
			if !ok {
				if sendSlot != nil {
					sendSlot.CancelAt(now) // not ours to send
				}
				continue // another dispatcher took it, or it was redelivered or deleted
			}
			j.seen, j.sent = &next, sendSlot != nil
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Send.
	var wg sync.WaitGroup
	for _, j := range jobs {
		if !j.sent {
			continue
		}
		wg.Go(func() {
			sctx, cancel := context.WithTimeout(ctx, d.cfg.SendTimeout)
			j.err = d.cfg.Senders[j.dest.Channel].Send(sctx, j.to, j.msg)
			cancel()
			if j.err == nil {
				d.Sent.Add(1)
			} else {
				d.Failed.Add(1)
			}
		})
	}
	wg.Wait()
	// Record, again only what is still as claimed: a delivery redelivered
	// meanwhile, or taken over by another dispatcher after the lease, is
	// its new owner's to record.
	return d.cfg.Store.Tenant(context.WithoutCancel(ctx), tenant, func(tx polybot.TenantTx) error {
		now := tx.Now()
		for _, j := range jobs {
			if !j.sent {
				continue
			}
			next := *j.seen
			d.outcome(&next, j.err, now)
			if _, err := tx.SwapNotifyDelivery(j.seen, &next); err != nil {
				return err
			}
		}
		return nil
	})
}

// outcome sets a claimed delivery's state after its send returned serr:
// delivered; dead when the receiver refused it or after MaxAttempts;
// otherwise due again after the backoff (or the receiver's Retry-After).
func (d *Dispatcher) outcome(cur *polybot.NotifyDelivery, serr error, now time.Time) {
	if serr == nil {
		cur.State, cur.LastError, cur.DeliveredAt = polybot.DeliveryDelivered, "", &now
		return
	}
	var se *SendError
	if !errors.As(serr, &se) {
		se = failure(false, "%v", serr)
	}
	cur.LastError = strings.ReplaceAll(strings.ToValidUTF8(se.Msg, "?"), "\x00", "")
	switch {
	case se.Permanent:
		cur.State = polybot.DeliveryDead
		cur.LastError = "refused (not retried): " + cur.LastError
	case cur.Attempts >= d.cfg.MaxAttempts:
		cur.State = polybot.DeliveryDead
		cur.LastError = "gave up after " + strconv.Itoa(cur.Attempts) + " attempts: " + cur.LastError
	default:
		cur.NextAt = now.Add(max(d.backoff(cur.Attempts), se.RetryAfter))
	}
}

// backoff is the wait after the n-th failed attempt: Backoff × 2^(n−1),
// at most MaxBackoff, less a random part of up to half (jitter, so many
// failing deliveries do not retry in step).
func (d *Dispatcher) backoff(n int) time.Duration {
	w := d.cfg.Backoff
	for i := 1; i < n && w < d.cfg.MaxBackoff; i++ {
		w *= 2
	}
	w = min(w, d.cfg.MaxBackoff)
	return w - time.Duration(rand.Int64N(int64(w/2)+1))
}

// open opens every sealed field of dest in tx.
func (d *Dispatcher) open(ctx context.Context, tx polybot.TenantTx, dest *polybot.NotifyDestination) (Target, error) {
	to := Target{Dest: dest, Secrets: map[string][]byte{}}
	for field := range dest.Sealed {
		if d.cfg.Box == nil {
			return to, polybot.Internal(errors.New("notify: no secrets box"))
		}
		b, err := d.cfg.Box.OpenNotify(ctx, tx, dest, field)
		if err != nil {
			to.clear()
			return to, err
		}
		to.Secrets[field] = b
	}
	return to, nil
}

// clear zeroes the opened secrets.
func (t Target) clear() {
	for _, b := range t.Secrets {
		clear(b)
	}
}

func (d *Dispatcher) settingsURL() string {
	if d.cfg.BaseURL == "" {
		return ""
	}
	return d.cfg.BaseURL + "/notifications"
}
