package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/engine"
	"github.com/polybot/polybot/internal/nats/natstest"
	"github.com/polybot/polybot/internal/news"
	"github.com/polybot/polybot/internal/secrets"
	"github.com/polybot/polybot/internal/sqlite"
)

// An api node's webhook intake verifies a signed delivery, posts its
// headline on the bus for the worker running the tenant (with its id, the
// tenant and the api node's receipt) and keeps it as the tenant's own;
// with the bus gone it declines (EUNAVAILABLE) and keeps nothing, and the
// same signed delivery still verifies, so the sender can send it again.
func TestAnAPINodesWebhookIntakePostsTheHeadlineOnTheBusAndDeclinesWithoutIt(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(filepath.Join(dir, "polybot.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	kr, err := secrets.OpenKeyFile(filepath.Join(dir, "master.key"), true)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := secrets.LoadAuditKey(ctx, st, kr); err != nil {
		t.Fatal(err)
	}
	tenant, _, err := ensureDemoUser(ctx, st, "hooks@example.com")
	if err != nil {
		t.Fatal(err)
	}
	cfg := natstest.Config(t)
	apiBus, workerBus := natstest.Connect(t, cfg), natstest.Connect(t, cfg)
	m, err := engine.New(engine.Config{Store: st, Role: engine.RoleAPI, Bus: apiBus})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var posts []polybot.Posted
	stop, err := workerBus.WatchPosts(ctx, engine.NewsKind, func(p polybot.Posted) { mu.Lock(); posts = append(posts, p); mu.Unlock() })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	intake := &apiNewsIntake{st: st, m: m}
	secret := []byte("pbwh_test-secret")
	now := time.Now()
	ts := strconv.FormatInt(now.Unix(), 10)
	body := []byte(`{"title":"Fed's Williams sees room for a cut","link":"https://wire.example.com/williams"}`)
	sig := news.SignWebhook(secret, ts, body)
	hs, err := intake.VerifyAndParse(secret, ts, sig, body, now)
	if err != nil || len(hs) != 1 {
		t.Fatalf("VerifyAndParse: %v, %v", hs, err)
	}
	hs[0].Source, hs[0].SourceName = "hook-1", "Wire"
	if err := intake.Deliver(ctx, tenant, hs); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "the post reaches the worker's watch", func() bool { mu.Lock(); defer mu.Unlock(); return len(posts) == 1 })
	mu.Lock()
	post := posts[0]
	mu.Unlock()
	var got struct {
		Tenant   polybot.ID       `json:"tenant"`
		Headline polybot.Headline `json:"headline"`
	}
	if err := json.Unmarshal(post.Data, &got); err != nil {
		t.Fatal(err)
	}
	if post.Key != tenant.String()+"."+hs[0].ID || got.Tenant != tenant || got.Headline.ID == "" ||
		got.Headline.Title != "Fed's Williams sees room for a cut" || got.Headline.Source != "hook-1" || !got.Headline.Received.Equal(now) {
		t.Fatalf("post %s: %+v", post.Key, got)
	}
	kept := func() []*polybot.Headline {
		var out []*polybot.Headline
		if err := st.TenantView(ctx, tenant, func(tx polybot.TenantTx) (err error) { out, err = tx.Headlines(time.Time{}, 10); return }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if k := kept(); len(k) != 1 || k[0].ID != hs[0].ID {
		t.Fatalf("kept %+v, want the delivered headline", k)
	}

	_ = apiBus.Close()
	body2 := []byte(`{"title":"Williams: a cut is on the table"}`)
	sig2 := news.SignWebhook(secret, ts, body2)
	for range 2 { // declined, then the same delivery again: it still verifies
		hs2, err := intake.VerifyAndParse(secret, ts, sig2, body2, now)
		if err != nil {
			t.Fatalf("the same delivery again: %v", err)
		}
		hs2[0].Source = "hook-1"
		if err := intake.Deliver(ctx, tenant, hs2); polybot.ErrorCode(err) != polybot.EUNAVAILABLE {
			t.Fatalf("Deliver with the bus closed: %v, want EUNAVAILABLE", err)
		}
	}
	if k := kept(); len(k) != 1 {
		t.Fatalf("a declined delivery was kept: %+v", k)
	}
}
