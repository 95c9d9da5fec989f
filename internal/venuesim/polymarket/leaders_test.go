package polymarket_test

import (
	"slices"
	"testing"
	"time"

	"github.com/polybot/polybot"
	pm "github.com/polybot/polybot/internal/venue/polymarket"
	sim "github.com/polybot/polybot/internal/venuesim/polymarket"
	"github.com/polybot/polybot/internal/venuetest"
)

const leaderAddr = "0x6a72f61820b26b1fe4d956e17b6dc2a1ea3033ee"

func TestALeadersTradesAppearInTheDataAPINewestFirstAndMoveTheBooks(t *testing.T) {
	d := polybot.MustDecimal
	mk := sim.Market{ConditionID: "0xab00000000000000000000000000000000000000000000000000000000000001",
		Tokens: [2]string{"111", "222"}, Question: "Will the leader win?"}
	t0 := time.Unix(1777091420, 0)
	trades := []polybot.LeaderTrade{
		{Instrument: polybot.Instrument{Token: "111"}, Side: polybot.Buy, Price: d("0.55"), Size: d("30"), Time: t0, TxHash: "0xa1"},
		{Instrument: polybot.Instrument{Token: "111"}, Side: polybot.Sell, Price: d("0.50"), Size: d("10"), Time: t0.Add(time.Second), TxHash: "0xa2"},
		{Instrument: polybot.Instrument{Token: "111"}, Side: polybot.Sell, Price: d("1"), Size: d("20"), Time: t0.Add(2 * time.Second), TxHash: "0xa3", Redeem: true},
	}
	s, err := sim.New(sim.Config{Markets: []sim.Market{mk}, Leaders: []sim.LeaderConfig{{Address: leaderAddr, Trades: trades}}, LeaderSpeed: 20})
	if err != nil {
		t.Fatal(err)
	}
	// The books before the leader: asks 0.54×20, 0.55×40, 0.56×50; bids 0.50×25, 0.49×40.
	if _, err := s.Engine().SetExternal("111", []polybot.Level{{Price: d("0.50"), Size: d("25")}, {Price: d("0.49"), Size: d("40")}},
		[]polybot.Level{{Price: d("0.54"), Size: d("20")}, {Price: d("0.55"), Size: d("40")}, {Price: d("0.56"), Size: d("50")}}); err != nil {
		t.Fatal(err)
	}
	urls := venuetest.StartSim(t, s.Start, nil)
	ctx := t.Context()
	c := pm.NewClient(urls.ClientConfig(pm.ChainPolygon))
	eventually(t, "the leader's three trades", func() bool { return len(s.LeaderTrades(leaderAddr)) == 3 })

	// The buy of 30 at 0.55 took 20 at 0.54 and 10 at 0.55; the sell of 10
	// at 0.50 took 10 of the 25 bid there.
	depth := s.Engine().Depth("111", 5)
	wantAsks := []polybot.Level{{Price: d("0.55"), Size: d("30")}, {Price: d("0.56"), Size: d("50")}}
	wantBids := []polybot.Level{{Price: d("0.50"), Size: d("15")}, {Price: d("0.49"), Size: d("40")}}
	if !slices.Equal(depth.Asks, wantAsks) || !slices.Equal(depth.Bids, wantBids) {
		t.Errorf("book after the leader: bids %v asks %v, want %v %v", depth.Bids, depth.Asks, wantBids, wantAsks)
	}

	got, err := c.WalletTrades(ctx, pm.WalletTradesQuery{User: leaderAddr})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].TransactionHash != "0xa2" || got[1].TransactionHash != "0xa1" {
		t.Fatalf("trades %+v, want 0xa2 then 0xa1", got)
	}
	lt, err := got[1].ToLeaderTrade()
	if err != nil {
		t.Fatal(err)
	}
	if lt.Wallet != leaderAddr || lt.Instrument.Market != mk.ConditionID || lt.Instrument.Outcome != polybot.Yes ||
		lt.Side != polybot.Buy || lt.Price != d("0.55") || lt.Size != d("30") || lt.Title != mk.Question {
		t.Errorf("buy as a leader trade: %+v", lt)
	}

	for _, tc := range []struct {
		name string
		q    pm.WalletActivityQuery
		want []string
	}{
		{"all, newest first", pm.WalletActivityQuery{User: leaderAddr}, []string{"0xa3", "0xa2", "0xa1"}},
		{"redemptions", pm.WalletActivityQuery{User: leaderAddr, Types: []string{pm.ActivityRedeem}}, []string{"0xa3"}},
		{"limit and offset", pm.WalletActivityQuery{User: leaderAddr, Limit: 1, Offset: 1}, []string{"0xa2"}},
		{"oldest first", pm.WalletActivityQuery{User: leaderAddr, Ascending: true}, []string{"0xa1", "0xa2", "0xa3"}},
		{"another wallet", pm.WalletActivityQuery{User: "0x1111111111111111111111111111111111111111"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := c.WalletActivity(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var hashes []string
			for _, r := range rows {
				hashes = append(hashes, r.TransactionHash)
			}
			if len(hashes) != len(tc.want) {
				t.Fatalf("got %v, want %v", hashes, tc.want)
			}
			for i := range hashes {
				if hashes[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", hashes, tc.want)
				}
			}
		})
	}
	rows, _ := c.WalletActivity(ctx, pm.WalletActivityQuery{User: leaderAddr, Types: []string{pm.ActivityRedeem}})
	if r, err := rows[0].ToLeaderTrade(); err != nil || !r.Redeem || r.Price != polybot.One || r.Size != d("20") {
		t.Errorf("redemption %+v %v", r, err)
	}
}

func TestALeaderTradeInAnUnlistedTokenIsRefused(t *testing.T) {
	s, _ := startSim(t, sim.Config{})
	err := s.AddLeaderTrade(polybot.LeaderTrade{Wallet: leaderAddr, Instrument: polybot.Instrument{Token: "999"},
		Side: polybot.Buy, Price: polybot.MustDecimal("0.5"), Size: polybot.One})
	if polybot.ErrorCode(err) != polybot.ENOTFOUND {
		t.Fatalf("err = %v, want not found", err)
	}
	if err := s.AddLeaderTrade(polybot.LeaderTrade{Wallet: "nope"}); polybot.ErrorCode(err) != polybot.EINVALID {
		t.Fatalf("err = %v, want invalid", err)
	}
}

func TestTheRealLeaderReplaysItsTenRecordedBuysThroughItsMarketsBooks(t *testing.T) {
	l, m, books, err := sim.RealLeader()
	if err != nil {
		t.Fatal(err)
	}
	s, err := sim.New(sim.Config{Markets: []sim.Market{m}, Leaders: []sim.LeaderConfig{l}})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range books {
		if err := s.Apply(ev); err != nil {
			t.Fatal(err)
		}
	}
	ducks := m.Tokens[1]
	before := s.Engine().Depth(ducks, 20)
	urls := venuetest.StartSim(t, s.Start, nil)
	ctx := t.Context()
	eventually(t, "ten trades", func() bool { return len(s.LeaderTrades(l.Address)) == 10 })
	rows, err := pm.NewClient(urls.ClientConfig(pm.ChainPolygon)).WalletActivity(ctx, pm.WalletActivityQuery{User: l.Address, Ascending: true})
	if err != nil {
		t.Fatal(err)
	}
	// Oldest first, as recorded: the Oilers buy, then the nine Ducks buys.
	if len(rows) != 10 || rows[0].Asset != m.Tokens[0] || rows[0].TransactionHash != l.Trades[9].TxHash || rows[9].TransactionHash != l.Trades[0].TxHash {
		t.Fatalf("replayed activity %+v", rows)
	}
	after := s.Engine().Depth(ducks, 20)
	sum := func(ls []polybot.Level) polybot.Decimal {
		total := polybot.Zero
		for _, x := range ls {
			total = total.Add(x.Size)
		}
		return total
	}
	// The nine Ducks buys (8420.718728 shares) take asks at or below their
	// prices; the recorded prices are not in order, so an early buy at
	// 0.80 takes the 0.76 level a later buy at 0.767161 wanted: the book
	// moved up, and less than the whole size found asks.
	took := sum(before.Asks).Sub(sum(after.Asks))
	if took.Sign() <= 0 || took.GreaterThan(polybot.MustDecimal("8420.718728")) {
		t.Errorf("the leader took %s shares of Ducks asks", took)
	}
	if !after.Asks[0].Price.GreaterThan(before.Asks[0].Price) {
		t.Errorf("best Ducks ask %s before, %s after: the buys did not move it", before.Asks[0].Price, after.Asks[0].Price)
	}
}
