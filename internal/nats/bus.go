// Package nats is PolyBot's message bus (polybot.Bus) on NATS JetStream,
// through the official client github.com/nats-io/nats.go. It carries the
// messages between the roles of a scale-out deployment.
//
// Subjects and storage (prefix P, "polybot" by default):
//
//	KV bucket P_last_<kind>       last value per key; keys are base64url of the
//	                              caller's key, so any instrument key fits; history 1.
//	                              Kinds: "books" (the gateway's view of each instrument),
//	                              "status" (each tenant's bot status, from the worker
//	                              holding it, with its lease epoch), "opportunities"
//	                              (key "recent": the gateway's recent opportunities)
//	stream P_queues, subjects     durable queues (work-queue retention): a worker's
//	  P.queue.<queue>             grants ("grants.<worker>"), the gateway's results
//	                              ("results.<gateway>"); Nats-Msg-Id deduplicates
//	                              resends for DedupeWindow; one durable consumer per queue,
//	                              deleted by the server after ConsumerIdle unused.
//	                              Send waits for each message's ack; SendAll publishes a
//	                              batch asynchronously, then awaits all the acks
//	core subject P.topic.<topic>  fire-and-forget fan-out, not stored: tenant events for
//	                              SSE ("events.<tenant>"), control ("control": start,
//	                              stop, reload, halt, cancel; start and stop also reach
//	                              workers through the leases, so a lost one only delays)
//	KV bucket P_posts_<kind>      take-once posts (Post, WatchPosts, Take); keys base64url
//	                              as above; history 1, file storage, every entry kept for
//	                              polybot.PostTTL. Post creates the key (refused while it
//	                              exists: a repost is not posted again); Take replaces the
//	                              post with an empty value at the post's revision, so of
//	                              racing takers one succeeds. Kind "news": webhook headlines,
//	                              key "<tenant>.<headline id>", posted by the api node that
//	                              received them, taken by the worker holding the tenant
//
// When NATS cannot be reached every call fails with EUNAVAILABLE within its
// context (publishes wait at most PublishTimeout): callers fail closed. The
// client reconnects by itself; a Receive or WatchLast resumes after a
// reconnect (JetStream consumers are durable, KV watches re-deliver the
// latest values).
//
// It imports only the root package and the NATS client.
package nats

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/polybot/polybot"
)

// QueueMaxAge is how long a queued message waits for its consumer.
const QueueMaxAge = 10 * time.Minute

// ConsumerIdle is how long a queue's durable consumer may go unused before
// the server deletes it: the consumers of workers that are gone and of
// tenants' own processes that moved do not pile up (what they had queued
// expired after QueueMaxAge long before).
const ConsumerIdle = time.Hour

// PublishTimeout bounds a publish when the caller's context has no
// earlier deadline.
const PublishTimeout = 5 * time.Second

// Config configures a Bus.
type Config struct {
	URL    string // e.g. nats://127.0.0.1:4222
	Prefix string // "" means "polybot"; one prefix per deployment
	Name   string // the connection's name (role and instance), for the server's monitoring
	// Replicas of the streams and buckets (1 for a single server).
	Replicas int
}

// Bus is a polybot.Bus on one NATS connection.
type Bus struct {
	cfg    Config
	nc     *natsgo.Conn
	js     jetstream.JetStream
	stream jetstream.Stream

	mu  sync.Mutex
	kvs map[string]jetstream.KeyValue
}

var _ polybot.Bus = (*Bus)(nil)

// unavailable wraps a NATS failure as EUNAVAILABLE.
func unavailable(what string, err error) error {
	return &polybot.Error{Code: polybot.EUNAVAILABLE, Message: "the message bus is unavailable: " + what, Err: err}
}

// Connect connects and makes sure the queue stream exists.
func Connect(ctx context.Context, cfg Config) (*Bus, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = "polybot"
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if !validToken(cfg.Prefix) {
		return nil, polybot.FieldError("prefix", "must be letters, digits, - and _")
	}
	nc, err := natsgo.Connect(cfg.URL, natsgo.Name(cfg.Name), natsgo.MaxReconnects(-1), natsgo.RetryOnFailedConnect(false))
	if err != nil {
		return nil, unavailable("connect", err)
	}
	// An async publish whose acknowledgement never comes (SendAll stopped
	// waiting for it) is forgotten after PublishTimeout.
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(PublishTimeout))
	if err != nil {
		nc.Close()
		return nil, unavailable("jetstream", err)
	}
	s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: cfg.Prefix + "_queues", Subjects: []string{cfg.Prefix + ".queue.>"}, Retention: jetstream.WorkQueuePolicy,
		Storage: jetstream.FileStorage, Replicas: cfg.Replicas, Duplicates: polybot.DedupeWindow,
		// A grant is worth something for seconds: what a dead worker never
		// took is dropped after QueueMaxAge instead of piling up.
		MaxAge: QueueMaxAge,
	})
	if err != nil {
		nc.Close()
		return nil, unavailable("the queue stream", err)
	}
	return &Bus{cfg: cfg, nc: nc, js: js, stream: s, kvs: map[string]jetstream.KeyValue{}}, nil
}

// validToken reports whether s is one subject token of letters, digits,
// '-' and '_' (dots separate tokens and are allowed inside queue names).
func validToken(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for _, c := range s {
		ok := c == '-' || c == '_' || c == '.' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		if !ok {
			return false
		}
	}
	return !strings.HasPrefix(s, ".") && !strings.HasSuffix(s, ".") && !strings.Contains(s, "..")
}

func (b *Bus) kv(ctx context.Context, kind string) (jetstream.KeyValue, error) {
	if !validToken(kind) || strings.Contains(kind, ".") {
		return nil, polybot.FieldError("kind", "must be letters, digits, - and _")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if kv := b.kvs[kind]; kv != nil {
		return kv, nil
	}
	kv, err := b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: b.cfg.Prefix + "_last_" + kind, History: 1,
		Storage: jetstream.MemoryStorage, Replicas: b.cfg.Replicas})
	if err != nil {
		return nil, unavailable("the "+kind+" bucket", err)
	}
	b.kvs[kind] = kv
	return kv, nil
}

// posts is the take-once bucket of kind.
func (b *Bus) posts(ctx context.Context, kind string) (jetstream.KeyValue, error) {
	if !validToken(kind) || strings.Contains(kind, ".") {
		return nil, polybot.FieldError("kind", "must be letters, digits, - and _")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	name := b.cfg.Prefix + "_posts_" + kind
	if kv := b.kvs["posts:"+kind]; kv != nil { // ':' is in no kind of PutLast
		return kv, nil
	}
	kv, err := b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: name, History: 1, TTL: polybot.PostTTL,
		Storage: jetstream.FileStorage, Replicas: b.cfg.Replicas})
	if err != nil {
		return nil, unavailable("the "+kind+" posts", err)
	}
	b.kvs["posts:"+kind] = kv
	return kv, nil
}

// postsCall is kind's bucket for one write, and its bounded context,
// once the bus is not closing.
func (b *Bus) postsCall(ctx context.Context, kind string) (jetstream.KeyValue, context.Context, context.CancelFunc, error) {
	kv, err := b.posts(ctx, kind)
	if err == nil {
		err = b.closing()
	}
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := bounded(ctx)
	return kv, ctx, cancel, nil
}

// Post implements polybot.Bus.
func (b *Bus) Post(ctx context.Context, kind, key string, data []byte) (bool, error) {
	if len(data) == 0 {
		return false, polybot.FieldError("data", "is required: an empty value marks a post taken")
	}
	kv, ctx, cancel, err := b.postsCall(ctx, kind)
	if err != nil {
		return false, err
	}
	defer cancel()
	if _, err := kv.Create(ctx, base64.RawURLEncoding.EncodeToString([]byte(key)), data); errors.Is(err, jetstream.ErrKeyExists) {
		return false, nil
	} else if err != nil {
		return false, unavailable("post "+kind, err)
	}
	return true, nil
}

// WatchPosts implements polybot.Bus.
func (b *Bus) WatchPosts(ctx context.Context, kind string, fn func(polybot.Posted)) (func(), error) {
	kv, err := b.posts(ctx, kind)
	if err != nil {
		return nil, err
	}
	return watch(ctx, kv, kind+" posts", func(key string, e jetstream.KeyValueEntry) {
		p := polybot.Posted{Key: key, Rev: e.Revision(), Taken: len(e.Value()) == 0}
		if !p.Taken {
			p.Data = e.Value()
		}
		fn(p)
	})
}

// Take implements polybot.Bus.
func (b *Bus) Take(ctx context.Context, kind string, p polybot.Posted) (bool, error) {
	kv, ctx, cancel, err := b.postsCall(ctx, kind)
	if err != nil {
		return false, err
	}
	defer cancel()
	_, err = kv.Update(ctx, base64.RawURLEncoding.EncodeToString([]byte(p.Key)), []byte{}, p.Rev)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyExists):
		return false, nil // taken by another, or expired and posted again
	}
	return false, unavailable("take a "+kind+" post", err)
}

func bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, PublishTimeout)
}

// PutLast implements polybot.Bus.
func (b *Bus) PutLast(ctx context.Context, kind, key string, data []byte) error {
	kv, err := b.kv(ctx, kind)
	if err != nil {
		return err
	}
	if err := b.closing(); err != nil {
		return err
	}
	ctx, cancel := bounded(ctx)
	defer cancel()
	if _, err := kv.Put(ctx, base64.RawURLEncoding.EncodeToString([]byte(key)), data); err != nil {
		return unavailable("put "+kind, err)
	}
	return nil
}

// WatchLast implements polybot.Bus.
func (b *Bus) WatchLast(ctx context.Context, kind string, fn func(key string, data []byte)) (func(), error) {
	kv, err := b.kv(ctx, kind)
	if err != nil {
		return nil, err
	}
	return watch(ctx, kv, kind, func(key string, e jetstream.KeyValueEntry) { fn(key, e.Value()) })
}

// watch calls fn with the latest entry of every key of kv, then with each
// new one, until the returned stop is called or ctx ends.
func watch(ctx context.Context, kv jetstream.KeyValue, what string, fn func(key string, e jetstream.KeyValueEntry)) (func(), error) {
	ctx, cancel := context.WithCancel(ctx)
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		cancel()
		return nil, unavailable("watch "+what, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range w.Updates() {
			if e == nil { // the initial values are all in
				continue
			}
			k, err := base64.RawURLEncoding.DecodeString(e.Key())
			if err != nil {
				continue // not ours
			}
			fn(string(k), e)
		}
	}()
	return func() { cancel(); _ = w.Stop(); <-done }, nil
}

func (b *Bus) queueSubject(queue string) (string, error) {
	if !validToken(queue) {
		return "", polybot.FieldError("queue", "must be letters, digits, -, _ and dots")
	}
	return b.cfg.Prefix + ".queue." + queue, nil
}

// Send implements polybot.Bus.
func (b *Bus) Send(ctx context.Context, queue, id string, data []byte) error {
	subj, err := b.queueSubject(queue)
	if err != nil {
		return err
	}
	if id == "" {
		return polybot.FieldError("id", "is required: it deduplicates a resend")
	}
	if err := b.closing(); err != nil {
		return err
	}
	ctx, cancel := bounded(ctx)
	defer cancel()
	if _, err := b.js.Publish(ctx, subj, data, jetstream.WithMsgID(id)); err != nil {
		if ctx.Err() != nil { // it may have gone out before the deadline
			err = errors.Join(err, polybot.ErrMaybeSent)
		}
		return unavailable("send to "+queue, err)
	}
	return nil
}

// SendAll implements polybot.Bus with JetStream async publishes: every
// message goes out at once, each with its Nats-Msg-Id as Send's, then the
// acknowledgements are awaited together, within the context (at most
// PublishTimeout without a deadline). A message no stream answers fails at
// once instead of being retried as Send retries it: a retry would overtake
// the messages sent after it.
func (b *Bus) SendAll(ctx context.Context, msgs []polybot.Outgoing) []error {
	errs := make([]error, len(msgs))
	if err := b.closing(); err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	ctx, cancel := bounded(ctx)
	defer cancel()
	deadline, _ := ctx.Deadline()
	type pending struct {
		i    int
		ok   <-chan *jetstream.PubAck
		fail <-chan error
	}
	sent := make([]pending, 0, len(msgs))
	for i, m := range msgs {
		subj, err := b.queueSubject(m.Queue)
		if err != nil {
			errs[i] = err
			continue
		}
		if m.ID == "" {
			errs[i] = polybot.FieldError("id", "is required: it deduplicates a resend")
			continue
		}
		wait := time.Until(deadline)
		if ctx.Err() != nil || wait <= 0 {
			errs[i] = unavailable("send to "+m.Queue, context.Cause(ctx))
			continue
		}
		// More than the client's limit of messages awaiting their acks
		// waits for room, within the deadline.
		f, err := b.js.PublishAsync(subj, m.Data, jetstream.WithMsgID(m.ID), jetstream.WithRetryAttempts(0), jetstream.WithStallWait(wait))
		if err != nil {
			errs[i] = unavailable("send to "+m.Queue, err)
			continue
		}
		sent = append(sent, pending{i: i, ok: f.Ok(), fail: f.Err()})
	}
	for _, p := range sent {
		var err error
		select {
		case <-p.ok:
		case err = <-p.fail:
		case <-ctx.Done():
			select { // it may have come with the end
			case <-p.ok:
			case err = <-p.fail:
			default: // published, not acknowledged: the stream may have it
				err = fmt.Errorf("no acknowledgement: %w: %w", context.Cause(ctx), polybot.ErrMaybeSent)
			}
		}
		if errors.Is(err, jetstream.ErrAsyncPublishTimeout) {
			err = errors.Join(err, polybot.ErrMaybeSent)
		}
		if err != nil {
			errs[p.i] = unavailable("send to "+msgs[p.i].Queue, err)
		}
	}
	return errs
}

// Receive implements polybot.Bus.
func (b *Bus) Receive(ctx context.Context, queue string, redeliver time.Duration, fn func(data []byte) error) (func(), error) {
	subj, err := b.queueSubject(queue)
	if err != nil {
		return nil, err
	}
	if redeliver <= 0 {
		redeliver = 30 * time.Second
	}
	durable := strings.NewReplacer(".", "_").Replace(queue)
	c, err := b.stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: durable, FilterSubject: subj,
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: redeliver, MaxAckPending: 10_000, InactiveThreshold: ConsumerIdle})
	if err != nil {
		return nil, unavailable("consume "+queue, err)
	}
	// After stop, a message the client had already buffered must not
	// reach fn (the caller has moved on, and another instance may be
	// consuming the queue): it goes back at once, unacknowledged.
	var stopped atomic.Bool
	cc, err := c.Consume(func(m jetstream.Msg) {
		if stopped.Load() {
			_ = m.Nak()
			return
		}
		if err := fn(m.Data()); err != nil {
			_ = m.NakWithDelay(min(redeliver, time.Second))
			return
		}
		_ = m.Ack()
	})
	if err != nil {
		return nil, unavailable("consume "+queue, err)
	}
	return func() {
		stopped.Store(true)
		cc.Stop()
		select {
		case <-cc.Closed():
		case <-time.After(5 * time.Second):
		}
	}, nil
}

func (b *Bus) topicSubject(topic string) (string, error) {
	if !validToken(topic) {
		return "", polybot.FieldError("topic", "must be letters, digits, -, _ and dots")
	}
	return b.cfg.Prefix + ".topic." + topic, nil
}

// Publish implements polybot.Bus.
func (b *Bus) Publish(topic string, data []byte) error {
	subj, err := b.topicSubject(topic)
	if err != nil {
		return err
	}
	if err := b.closing(); err != nil {
		return err
	}
	if err := b.nc.Publish(subj, data); err != nil {
		return unavailable("publish "+topic, err)
	}
	return nil
}

// Subscribe implements polybot.Bus.
func (b *Bus) Subscribe(topic string, fn func(data []byte)) (func(), error) {
	subj, err := b.topicSubject(topic)
	if err != nil {
		return nil, err
	}
	sub, err := b.nc.Subscribe(subj, func(m *natsgo.Msg) { fn(m.Data) })
	if err != nil {
		return nil, unavailable("subscribe "+topic, err)
	}
	if err := b.nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		return nil, unavailable("subscribe "+topic, err)
	}
	return func() { _ = sub.Unsubscribe() }, nil
}

// Close drains the connection (what was published is flushed, handlers
// finish) and waits, at most PublishTimeout, for it to close.
func (b *Bus) Close() error {
	if err := b.nc.Drain(); err != nil && !errors.Is(err, natsgo.ErrConnectionClosed) {
		return fmt.Errorf("nats: drain: %w", err)
	}
	for end := time.Now().Add(PublishTimeout); !b.nc.IsClosed() && time.Now().Before(end); {
		time.Sleep(5 * time.Millisecond)
	}
	if !b.nc.IsClosed() {
		b.nc.Close()
	}
	return nil
}

// closing reports an error once Close has begun: nothing new goes out.
func (b *Bus) closing() error {
	if b.nc.IsClosed() || b.nc.IsDraining() {
		return unavailable("the connection is closing", natsgo.ErrConnectionClosed)
	}
	return nil
}
