// Package natstest gives tests a bus of their own on a real NATS server
// with JetStream: POLYBOT_TEST_NATS_URL, or the machine's on
// 127.0.0.1:4222 (.ci/run starts one). Without a server the test skips,
// unless POLYBOT_REQUIRE_NATS=1 (CI), when it fails. Each bus has a prefix
// of its own, and what it made is removed when the test ends.
//
// It is for tests only. It imports internal/nats and the NATS client.
package natstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/polybot/polybot/internal/nats"
)

// URL is the test server's URL; it skips or fails t when none answers.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("POLYBOT_TEST_NATS_URL")
	if u == "" {
		u = "nats://127.0.0.1:4222"
	}
	nc, err := natsgo.Connect(u, natsgo.Timeout(2*time.Second))
	if err != nil {
		if os.Getenv("POLYBOT_REQUIRE_NATS") == "1" {
			t.Fatalf("NATS at %s: %v", u, err)
		}
		t.Skipf("no NATS at %s (%v); set POLYBOT_REQUIRE_NATS=1 to require it", u, err)
	}
	nc.Close()
	return u
}

// Config is a bus configuration under a fresh prefix, whose streams and
// buckets are deleted when t ends.
func Config(t testing.TB) nats.Config {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	cfg := nats.Config{URL: URL(t), Prefix: "pbtest_" + hex.EncodeToString(b[:]), Name: t.Name()}
	t.Cleanup(func() { cleanup(cfg) })
	return cfg
}

// Open connects a bus under a fresh prefix (see Config).
func Open(t testing.TB) *nats.Bus {
	t.Helper()
	return Connect(t, Config(t))
}

// Connect connects another bus to cfg's deployment, closed when t ends.
func Connect(t testing.TB, cfg nats.Config) *nats.Bus {
	t.Helper()
	bus, err := nats.Connect(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	return bus
}

func cleanup(cfg nats.Config) {
	nc, err := natsgo.Connect(cfg.URL)
	if err != nil {
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = js.DeleteStream(ctx, cfg.Prefix+"_queues")
	names := js.KeyValueStoreNames(ctx)
	for n := range names.Name() {
		if strings.HasPrefix(n, cfg.Prefix+"_last_") || strings.HasPrefix(n, cfg.Prefix+"_posts_") {
			_ = js.DeleteKeyValue(ctx, n)
		}
	}
}
