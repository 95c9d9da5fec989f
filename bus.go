package polybot

import (
	"context"
	"errors"
	"time"
)

// Bus carries messages between the roles of a scale-out deployment
// (serve --role api, gateway, worker): book views from the gateway to the
// workers, the dispatcher's grants to the worker that holds a tenant and
// their results back, control (start, stop, reload, halt), tenant events
// for the api nodes' live streams, and the headlines of users' webhooks
// from the api nodes to the worker holding each user. Payloads are plain
// bytes: the engine's grants and views are plain values that it encodes
// itself.
//
// A single process (--role all) needs no bus. internal/nats implements it
// on NATS JetStream; its subjects are documented there. Every method fails
// (EUNAVAILABLE) when the bus cannot be reached, and callers fail closed:
// no grant that cannot be delivered is counted as delivered, and a worker
// without the bus sends nothing new.
type Bus interface {
	// PutLast stores data as key's latest value in the last-value space
	// of kind (book views per instrument): a watcher that starts later gets
	// the latest value of every key first.
	PutLast(ctx context.Context, kind, key string, data []byte) error
	// WatchLast calls fn with the latest value of every key of kind, then
	// with each new value, until stop is called or ctx ends.
	WatchLast(ctx context.Context, kind string, fn func(key string, data []byte)) (stop func(), err error)
	// Send queues data for the consumers of queue (a worker's grants), once:
	// a second Send with the same id within DedupeWindow is dropped.
	Send(ctx context.Context, queue, id string, data []byte) error
	// SendAll sends msgs as Send sends each one, but without waiting for
	// one to be queued before sending the next: a batch costs about one
	// round trip. The result has one entry per message, in order: nil
	// when it was queued (or dropped as a resend), else why not; one
	// failure does not stop the others. Messages to the same queue are
	// queued in order, as far as the bus keeps order. An error may also
	// mean the bus queued the message but its acknowledgement was lost.
	SendAll(ctx context.Context, msgs []Outgoing) []error
	// Receive consumes queue durably: fn's nil error acknowledges a
	// message; an error (or a crash before it returns) redelivers it after
	// redeliver. One consumer name per role instance.
	Receive(ctx context.Context, queue string, redeliver time.Duration, fn func(data []byte) error) (stop func(), err error)
	// Publish is fire-and-forget fan-out to the subscribers of topic at
	// that moment (tenant events for the api nodes).
	Publish(topic string, data []byte) error
	Subscribe(topic string, fn func(data []byte)) (stop func(), err error)
	// Post leaves data (not empty) under key in the take-once space of
	// kind (webhook headlines: one key per tenant and headline) for
	// PostTTL, until one consumer takes it. A key posted within PostTTL,
	// waiting or taken, is not posted again: Post reports false.
	Post(ctx context.Context, kind, key string, data []byte) (posted bool, err error)
	// WatchPosts calls fn with every post of kind still waiting (those
	// there already first), then with each new post and each post taken
	// (Posted.Taken), until stop is called or ctx ends.
	WatchPosts(ctx context.Context, kind string, fn func(Posted)) (stop func(), err error)
	// Take takes a waiting post: of any number of callers racing to take
	// the same post (its key and Rev), exactly one gets true; once it is
	// taken every other gets false.
	Take(ctx context.Context, kind string, p Posted) (bool, error)
	Close() error
}

// Outgoing is one message for Bus.SendAll: Data for the consumers of
// Queue, deduplicated by ID as Bus.Send is.
type Outgoing struct {
	Queue string
	ID    string
	Data  []byte
}

// ErrMaybeSent is in the chain of a Send or SendAll error when the message
// went out but no acknowledgement came back in time: it may have been
// queued, and may still be delivered. A grant sent so is counted used by
// the gateway, never lent again.
var ErrMaybeSent = errors.New("sent, but not acknowledged: it may have been queued")

// Posted is one post of a take-once space (Bus.Post), as WatchPosts sees
// it.
type Posted struct {
	Key   string
	Rev   uint64 // the post's revision: Take succeeds only while it is the key's latest
	Data  []byte // nil once taken
	Taken bool
}

// DedupeWindow is how long Bus.Send remembers a message id.
const DedupeWindow = 2 * time.Minute

// PostTTL is how long a post waits to be taken, and how long a key taken
// is remembered (so that it is not posted again): long enough for a dead
// worker's tenants to be claimed by another, which happens within a third
// of a lease period after its lease lapses (a lease lasts at most
// MaxLeaseTTL).
const PostTTL = 2 * MaxLeaseTTL
