package news

import (
	"bytes"
	"container/heap"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/polybot/polybot"
)

// A signed webhook delivery carries these headers. The signature is
// HMAC-SHA256 under the hook's secret over the timestamp (Unix seconds, as
// sent), a ".", and the body, in hex, optionally prefixed "sha256=".
const (
	WebhookTimestampHeader = "X-PolyBot-Timestamp"
	WebhookSignatureHeader = "X-PolyBot-Signature"
)

// Webhook bounds.
const (
	// WebhookTolerance is how far a delivery's timestamp may be from now,
	// either way; a delivery's signature is remembered for as long.
	WebhookTolerance = 5 * time.Minute
	// MaxWebhookBody is the largest body a delivery may have (the API's
	// body limit).
	MaxWebhookBody = 64 << 10
	// MaxWebhookHeadlines is the most headlines one delivery may list.
	MaxWebhookHeadlines = 100
	// DefaultReplayCacheSize is how many deliveries a MemoryReplayCache
	// remembers at most.
	DefaultReplayCacheSize = 100_000
)

// SignWebhook is the hex HMAC-SHA256 of timestamp + "." + body under
// secret: what a client sends in WebhookSignatureHeader.
func SignWebhook(secret []byte, timestamp string, body []byte) string {
	return hex.EncodeToString(webhookMAC(secret, timestamp, body))
}

func webhookMAC(secret []byte, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifyWebhook checks a signed delivery: the signature (hex, optionally
// "sha256="-prefixed) must be the HMAC-SHA256 of timestamp + "." + body
// under secret (compared in constant time), the timestamp (Unix seconds)
// within WebhookTolerance of now, and the delivery not seen before.
//
// Errors: EUNAUTHORIZED for a missing, malformed or wrong signature and a
// malformed, stale or future timestamp; ECONFLICT for a replay, a correctly
// signed delivery already accepted (a client that retries after a lost
// answer learns it was received; an attacker learns nothing it did not
// know); whatever seen returns when it cannot remember (ERATELIMIT for a
// full MemoryReplayCache). The signature is checked before seen is
// touched, so unsigned requests cannot fill it. An empty secret or a nil
// seen is EINTERNAL: a hook without them never verifies.
func VerifyWebhook(secret []byte, timestamp string, signature string, body []byte, now time.Time, seen ReplayCache) error {
	if len(secret) == 0 || seen == nil {
		return polybot.Internal(errors.New("news: webhook verification without a secret or a replay cache"))
	}
	ts, ok := parseUnixSeconds(timestamp)
	if !ok {
		return polybot.Errorf(polybot.EUNAUTHORIZED, "missing or malformed %s: Unix seconds expected", WebhookTimestampHeader)
	}
	sig := strings.TrimSpace(signature)
	if len(sig) >= 7 && strings.EqualFold(sig[:7], "sha256=") {
		sig = sig[7:]
	}
	got, err := hex.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return polybot.Errorf(polybot.EUNAUTHORIZED, "missing or malformed %s: 64 hex digits expected", WebhookSignatureHeader)
	}
	want := webhookMAC(secret, timestamp, body)
	if !hmac.Equal(got, want) {
		return polybot.Errorf(polybot.EUNAUTHORIZED, "webhook signature does not match")
	}
	at := time.Unix(ts, 0)
	switch {
	case now.Sub(at) > WebhookTolerance:
		return polybot.Errorf(polybot.EUNAUTHORIZED, "webhook timestamp is more than %d minutes old", int(WebhookTolerance/time.Minute))
	case at.Sub(now) > WebhookTolerance:
		return polybot.Errorf(polybot.EUNAUTHORIZED, "webhook timestamp is more than %d minutes in the future", int(WebhookTolerance/time.Minute))
	}
	// Past at+tolerance the timestamp check refuses it: no need to remember
	// it longer.
	return seen.Add(hex.EncodeToString(want), now, at.Add(WebhookTolerance))
}

func parseUnixSeconds(s string) (int64, bool) {
	if s == "" || len(s) > 12 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}

// ReplayCache remembers accepted webhook deliveries.
type ReplayCache interface {
	// Add records key until expires. It returns an ECONFLICT error when key
	// is already recorded and not expired at now, and an error when it
	// cannot record it; either way the delivery must be refused.
	Add(key string, now, expires time.Time) error
}

// MemoryReplayCache is a ReplayCache in memory, bounded in size: when it
// holds max unexpired keys it refuses new ones (ERATELIMIT) rather than
// forget one that could then be replayed. Safe for concurrent use.
type MemoryReplayCache struct {
	mu   sync.Mutex
	max  int
	keys map[string]time.Time
	exp  expiryHeap
}

// NewMemoryReplayCache returns a cache of at most max keys (≤ 0:
// DefaultReplayCacheSize).
func NewMemoryReplayCache(max int) *MemoryReplayCache {
	if max <= 0 {
		max = DefaultReplayCacheSize
	}
	return &MemoryReplayCache{max: max, keys: map[string]time.Time{}}
}

var _ ReplayCache = (*MemoryReplayCache)(nil)

// Add implements ReplayCache.
func (c *MemoryReplayCache) Add(key string, now, expires time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.exp) > 0 && !c.exp[0].at.After(now) {
		e := heap.Pop(&c.exp).(expiring)
		if at, ok := c.keys[e.key]; ok && at.Equal(e.at) {
			delete(c.keys, e.key)
		}
	}
	if at, ok := c.keys[key]; ok && at.After(now) {
		return polybot.Errorf(polybot.ECONFLICT, "this webhook delivery was already received (same timestamp and signature)")
	}
	if len(c.keys) >= c.max {
		return polybot.Errorf(polybot.ERATELIMIT, "too many webhook deliveries in the last %d minutes; retry later", int(WebhookTolerance/time.Minute))
	}
	c.keys[key] = expires
	heap.Push(&c.exp, expiring{key: key, at: expires})
	return nil
}

// Len is the number of keys held (expired ones included until the next
// Add sweeps them).
func (c *MemoryReplayCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.keys)
}

type expiring struct {
	key string
	at  time.Time
}

type expiryHeap []expiring

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiring)) }
func (h *expiryHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// webhookHeadline is one headline as a webhook sends it.
type webhookHeadline struct {
	Title     *string `json:"title"`
	Link      string  `json:"link"`
	Published string  `json:"published"` // RFC 3339; optional
}

type webhookBody struct {
	webhookHeadline
	Headlines *[]webhookHeadline `json:"headlines"`
}

// ParseWebhook reads a verified delivery's body: one headline
// {"title": "...", "link": "...", "published": RFC 3339} or a list of them
// under "headlines" (at most MaxWebhookHeadlines). Each becomes a Headline
// of source (the hook's id; name its name) received at received, checked
// with Headline.Validate. Errors: ETOOLARGE over MaxWebhookBody; EINVALID
// naming the field ("headlines[2].title") otherwise. Unknown fields are
// ignored, so a source may send more than PolyBot reads.
func ParseWebhook(body []byte, source, name string, received time.Time) ([]polybot.Headline, error) {
	if len(body) > MaxWebhookBody {
		return nil, polybot.Errorf(polybot.ETOOLARGE, "webhook body is over %d KiB", MaxWebhookBody>>10)
	}
	var b webhookBody
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&b); err != nil {
		return nil, polybot.FieldError("body", "must be a JSON object: {\"title\", \"link\", \"published\"} or {\"headlines\": [...]}")
	}
	if dec.More() {
		return nil, polybot.FieldError("body", "must be one JSON object")
	}
	var items []webhookHeadline
	prefix := func(int) string { return "" }
	switch {
	case b.Headlines != nil && b.Title != nil:
		return nil, polybot.FieldError("headlines", "send one headline (title) or a list (headlines), not both")
	case b.Headlines != nil:
		items = *b.Headlines
		prefix = func(i int) string { return "headlines[" + strconv.Itoa(i) + "]." }
		if len(items) == 0 {
			return nil, polybot.FieldError("headlines", "must list at least one headline")
		}
		if len(items) > MaxWebhookHeadlines {
			return nil, polybot.FieldError("headlines", fmt.Sprintf("must list at most %d headlines", MaxWebhookHeadlines))
		}
	case b.Title != nil:
		items = []webhookHeadline{b.webhookHeadline}
	default:
		return nil, polybot.FieldError("title", "a headline needs a title (or send a list under headlines)")
	}
	v := polybot.Validation{}
	out := make([]polybot.Headline, 0, len(items))
	for i, it := range items {
		p := prefix(i)
		h := polybot.Headline{Source: source, SourceName: name, Link: strings.TrimSpace(it.Link), Received: received}
		if it.Title != nil {
			h.Title = collapseSpace(*it.Title)
		}
		if it.Published != "" {
			t, err := time.Parse(time.RFC3339, it.Published)
			if err != nil {
				v.Add(p+"published", "must be an RFC 3339 time, e.g. 2025-11-21T12:30:00Z")
			}
			h.Published = t.UTC()
		}
		for f, msg := range polybot.ErrorFields(h.Validate()) {
			v.Add(p+f, msg)
		}
		SetHeadlineID(&h)
		out = append(out, h)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
