package polymarket_test

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/fee"
	"github.com/polybot/polybot/internal/marketdata/replay"
	pm "github.com/polybot/polybot/internal/venue/polymarket"
	sim "github.com/polybot/polybot/internal/venuesim/polymarket"
	"github.com/polybot/polybot/internal/venuetest"
)

func startSim(t *testing.T, cfg sim.Config) (*sim.Server, *pm.Client) {
	t.Helper()
	s, err := sim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	urls := venuetest.StartSim(t, s.Start, nil)
	return s, pm.NewClient(urls.ClientConfig(pm.ChainPolygon))
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestReplayingTheRecordedBooksServesEachTokensBookOverREST(t *testing.T) {
	src, err := sim.ReplayFile("../../../testdata/polymarket/ws_book.jsonl", replay.Options{}, false)
	if err != nil {
		t.Fatal(err)
	}
	s, c := startSim(t, sim.Config{Feeds: []sim.Source{src}})
	eventually(t, "10 markets", func() bool { return len(s.Markets()) == 10 })
	raw, err := replayEvents()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, ev := range raw {
		tok := ev.Instrument.Token
		var b *pm.BookSummary
		eventually(t, "book of "+tok[:8], func() bool {
			b, err = c.Book(ctx, tok)
			return err == nil && len(b.Bids) == len(ev.Bids) && len(b.Asks) == len(ev.Asks)
		})
		if b.Market != ev.Instrument.Market || b.TickSize != ev.TickSize {
			t.Errorf("%s: market %s tick %v, want %s %v", tok[:8], b.Market, b.TickSize, ev.Instrument.Market, ev.TickSize)
		}
		wantBid, wantAsk := best(ev.Bids, true), best(ev.Asks, false)
		gotBid, gotAsk := best(levels(b.Bids), true), best(levels(b.Asks), false)
		if gotBid != wantBid || gotAsk != wantAsk {
			t.Errorf("%s: best %v/%v, want %v/%v", tok[:8], gotBid, gotAsk, wantBid, wantAsk)
		}
	}
}

func replayEvents() ([]polybot.BookEvent, error) {
	f, err := openFile("../../../testdata/polymarket/ws_book.jsonl")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return replay.ReadPolymarketBooks(f)
}

func levels(ls []pm.PriceLevel) []polybot.Level {
	out := make([]polybot.Level, len(ls))
	for i, l := range ls {
		out[i] = polybot.Level{Price: l.Price, Size: l.Size}
	}
	return out
}

func best(ls []polybot.Level, bid bool) polybot.Level {
	var b polybot.Level
	for i, l := range ls {
		if i == 0 || (bid && l.Price.GreaterThan(b.Price)) || (!bid && l.Price.LessThan(b.Price)) {
			b = l
		}
	}
	return b
}

func TestTheCrossVenueReplayListsTheEventWithBothTokens(t *testing.T) {
	src, err := sim.ReplayFile("../../marketdata/replay/recordings/fed_dec2025_hold.csv", replay.Options{}, false)
	if err != nil {
		t.Fatal(err)
	}
	s, c := startSim(t, sim.Config{Feeds: []sim.Source{src}})
	ms := s.Markets()
	if len(ms) != 1 || ms[0].Tokens != [2]string{replay.FedDec2025Hold.PolymarketYesToken, replay.FedDec2025Hold.PolymarketNoToken} {
		t.Fatalf("markets %+v", ms)
	}
	eventually(t, "a YES bid", func() bool {
		b, err := c.Book(context.Background(), replay.FedDec2025Hold.PolymarketYesToken)
		return err == nil && len(b.Bids) == 1 && len(b.Asks) == 1
	})
	gm, err := c.Markets(context.Background(), pm.MarketsQuery{TokenIDs: []string{replay.FedDec2025Hold.PolymarketNoToken}})
	if err != nil || len(gm) != 1 || gm[0].Instruments()[1].Token != replay.FedDec2025Hold.PolymarketNoToken {
		t.Fatalf("gamma %+v %v", gm, err)
	}
}

func TestTheSyntheticFeedListsTradableMarketsAndMovesTheirBooks(t *testing.T) {
	s, c := startSim(t, sim.Config{Feeds: []sim.Source{sim.Synthetic(replay.SyntheticConfig{Markets: 3, UpdatesPerSecond: 500, Seed: 7})}})
	eventually(t, "3 markets", func() bool { return len(s.Markets()) == 3 })
	ctx := context.Background()
	for _, m := range s.Markets() {
		for _, tok := range m.Tokens {
			for _, ch := range tok {
				if ch < '0' || ch > '9' {
					t.Fatalf("token %q is not a decimal uint256, so no order could name it", tok)
				}
			}
		}
		b, err := c.Book(ctx, m.Tokens[0])
		if err != nil || len(b.Bids) == 0 || len(b.Asks) == 0 {
			t.Fatalf("book %+v %v", b, err)
		}
	}
}

func openFile(path string) (*os.File, error) { return os.Open(path) }

func TestTheChannelsAnswerPINGAndRefuseABadUserKey(t *testing.T) {
	const tok = "111"
	s, _ := startSim(t, sim.Config{Markets: []sim.Market{{ConditionID: "0xm", Tokens: [2]string{tok, "222"}}}})
	if err := s.Apply(polybot.BookEvent{Kind: polybot.BookSnapshot, Instrument: polybot.Instrument{Token: tok},
		Bids: []polybot.Level{{Price: polybot.MustDecimal("0.3"), Size: polybot.MustDecimal("5")}}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, s.URLs().MarketWS, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	read := func() string {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if err := c.Write(ctx, websocket.MessageText, []byte("PING")); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "PONG" {
		t.Fatalf("PING answered %q", got)
	}
	c.Write(ctx, websocket.MessageText, []byte(`{"assets_ids":["111"],"type":"market"}`))
	got := read()
	want := `[{"asks":[],"asset_id":"111","bids":[{"price":"0.3","size":"5"}],"event_type":"book",`
	if len(got) < len(want) || got[:len(want)] != want {
		t.Fatalf("first message %s", got)
	}

	u, _, err := websocket.Dial(ctx, s.URLs().UserWS, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer u.CloseNow()
	u.Write(ctx, websocket.MessageText, []byte(`{"auth":{"apiKey":"nope","secret":"x","passphrase":"y"},"type":"user"}`))
	_, _, err = u.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
		t.Fatalf("a bad key: %v", err)
	}
}

func TestTheReplayedMarketsPublishTheConfiguredFeeSchedule(t *testing.T) {
	src, err := sim.ReplayFile("../../marketdata/replay/recordings/fed_dec2025_hold.csv", replay.Options{}, false)
	if err != nil {
		t.Fatal(err)
	}
	econ := fee.PolymarketSchedule{Rate: polybot.MustDecimal("0.05"), Exponent: 1}
	_, c := startSim(t, sim.Config{Feeds: []sim.Source{src}, FeedFeeSchedule: econ})
	gm, err := c.Markets(context.Background(), pm.MarketsQuery{TokenIDs: []string{replay.FedDec2025Hold.PolymarketYesToken}})
	if err != nil || len(gm) != 1 || !gm[0].FeesEnabled || gm[0].FeeSchedule != econ {
		t.Fatalf("gamma %+v %v", gm, err)
	}
	info, err := c.ClobMarketInfo(context.Background(), gm[0].ConditionID)
	if err != nil || info.FeeSchedule != econ {
		t.Fatalf("clob market info %+v %v", info, err)
	}
}

func TestTheDemoEventIsServedAsANegRiskEventAndReplayedToItsLastBooks(t *testing.T) {
	rec := replay.SyntheticEvent(polybot.Polymarket)
	fees := fee.PolymarketSchedule{Rate: polybot.MustDecimal("0.03"), Exponent: 1}
	s, c := startSim(t, sim.Config{Events: []*replay.EventRecording{rec}, FeedFeeSchedule: fees})
	ctx := context.Background()
	last := map[string]polybot.BookEvent{}
	for _, ev := range rec.Events {
		last[ev.Instrument.Token] = ev
	}
	for tok, ev := range last {
		eventually(t, "the last book of "+tok[:8], func() bool {
			d := s.Engine().Depth(tok, 0)
			return slices.Equal(d.Bids, ev.Bids) && slices.Equal(d.Asks, ev.Asks)
		})
	}
	evs, err := c.Events(ctx, pm.EventsQuery{Slugs: []string{rec.Set.ID}})
	if err != nil || len(evs) != 1 {
		t.Fatalf("events: %+v %v", evs, err)
	}
	ev := evs[0]
	if !ev.NegRisk || ev.NegRiskAugmented || ev.NegRiskMarketID != rec.Set.Event || len(ev.Markets) != 4 {
		t.Fatalf("event %+v", ev)
	}
	for i, m := range ev.Markets {
		o := rec.Set.Outcomes[i].Markets[0]
		if m.GroupItemTitle != rec.Set.Outcomes[i].Label || m.ConditionID != o.Yes.Market || m.TokenIDs[0] != o.Yes.Token ||
			m.TokenIDs[1] != o.No.Token || !m.FeesEnabled || m.FeeSchedule != fees {
			t.Errorf("market %d: %+v", i, m)
		}
	}
	if got, err := c.Events(ctx, pm.EventsQuery{Closed: ptr(true)}); err != nil || len(got) != 0 {
		t.Fatalf("closed events: %+v %v", got, err)
	}
	if got, err := c.Event(ctx, ev.ID); err != nil || got.NegRiskMarketID != rec.Set.Event {
		t.Fatalf("event by id: %+v %v", got, err)
	}
}

func TestAnEventNotKnownToBeExhaustiveIsServedAugmented(t *testing.T) {
	rec := replay.SyntheticEvent(polybot.Polymarket)
	rec.Set.Exhaustive = false
	_, c := startSim(t, sim.Config{Events: []*replay.EventRecording{rec}})
	evs, err := c.Events(context.Background(), pm.EventsQuery{})
	if err != nil || len(evs) != 1 || !evs[0].NegRiskAugmented {
		t.Fatalf("events %+v %v, want one augmented event", evs, err)
	}
	set, _, err := pm.OutcomeSetOf(evs[0])
	if err != nil || set.Exhaustive {
		t.Fatalf("set %+v %v, want it read back as not exhaustive", set, err)
	}
}

func TestAnEventOfAnotherVenueOrWithAListedTokenIsRefused(t *testing.T) {
	if _, err := sim.New(sim.Config{Events: []*replay.EventRecording{replay.SyntheticEvent(polybot.Kalshi)}}); err == nil {
		t.Fatal("a Kalshi event was listed on Polymarket")
	}
	rec := replay.SyntheticEvent(polybot.Polymarket)
	if _, err := sim.New(sim.Config{Events: []*replay.EventRecording{rec, rec}}); polybot.ErrorCode(err) != polybot.ECONFLICT {
		t.Fatalf("the same event twice: %v, want a conflict", err)
	}
}

func ptr[T any](v T) *T { return &v }
