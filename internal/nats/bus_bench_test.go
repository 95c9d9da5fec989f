package nats_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/nats/natstest"
)

// BenchmarkSendAllVersusSend sends a batch of grants' worth of messages to
// two queues on the real server, first one Send at a time (each waiting for
// its ack), then in one SendAll, and reports each per message and their
// ratio (how many times faster the batch is).
func BenchmarkSendAllVersusSend(b *testing.B) {
	bus := natstest.Open(b)
	ctx := context.Background()
	const batch = 256
	data := make([]byte, 600) // about an encoded two-leg grant
	msgs := make([]polybot.Outgoing, batch)
	var seqNs, allNs time.Duration
	sent, round := 0, 0
	for b.Loop() {
		round++
		t0 := time.Now()
		for k := range batch {
			if err := bus.Send(ctx, fmt.Sprintf("grants.w%d", k%2), fmt.Sprintf("s-%d-%d", round, k), data); err != nil {
				b.Fatal(err)
			}
		}
		t1 := time.Now()
		for k := range msgs { // building the batch is part of its cost
			msgs[k] = polybot.Outgoing{Queue: fmt.Sprintf("grants.w%d", k%2), ID: fmt.Sprintf("a-%d-%d", round, k), Data: data}
		}
		for _, err := range bus.SendAll(ctx, msgs) {
			if err != nil {
				b.Fatal(err)
			}
		}
		t2 := time.Now()
		seqNs += t1.Sub(t0)
		allNs += t2.Sub(t1)
		sent += batch
	}
	perSend := float64(seqNs.Nanoseconds()) / float64(sent)
	perAll := float64(allNs.Nanoseconds()) / float64(sent)
	b.ReportMetric(perSend, "ns/msg-send")
	b.ReportMetric(perAll, "ns/msg-sendall")
	b.ReportMetric(perSend/perAll, "ratio")
}
