package strategy

import (
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

func TestCopy(t *testing.T) {
	// The leader bought 200 YES at 0.40 ($80.00), 10 s ago.
	trade := func() *polybot.LeaderTrade {
		return &polybot.LeaderTrade{Wallet: "0x" + strings.Repeat("a", 40), Instrument: pmYes, Side: polybot.Buy, Price: dec("0.40"),
			Size: dec("200"), Time: t0.Add(-10 * time.Second), TxHash: "0xabc"}
	}
	leader := func(mod func(*polybot.Leader)) *polybot.Leader {
		l := &polybot.Leader{ID: "whale", Address: "0x" + strings.Repeat("a", 40), Enabled: true, Mode: polybot.CopyProportional,
			Multiplier: dec("0.5"), PriceGuard: dec("0.02"), MaxAge: time.Minute}
		if mod != nil {
			mod(l)
		}
		return l
	}
	book := &bk{ask: "0.41", size: "1000", bid: "0.39"}
	tests := []struct {
		name   string
		leader *polybot.Leader
		trade  func(*polybot.LeaderTrade)
		book   *bk
		st     CopyState
		size   string // a buy of this many shares at the ask
		sell   string // or a sale of this many
		reason string // or a skip saying this
	}{
		// 0.5 × $80 = $40 at 0.41: 97.560975… → 97.56 (Polymarket trades hundredths).
		{name: "proportional", leader: leader(nil), size: "97.56"},
		// $25 at 0.41: 60.975609… → 60.97.
		{name: "fixed dollars", leader: leader(func(l *polybot.Leader) { l.Mode, l.FixedUSD = polybot.CopyFixed, dec("25") }), size: "60.97"},
		// 10% of a $300 balance = $30 at 0.41: 73.170731… → 73.17.
		{name: "a share of the balance", leader: leader(func(l *polybot.Leader) { l.Mode, l.BalancePct = polybot.CopyBalancePct, dec("10") }),
			st: CopyState{Balance: dec("300")}, size: "73.17"},
		// $40 capped at $20: 48.780487… → 48.78.
		{name: "the per-trade cap", leader: leader(func(l *polybot.Leader) { l.MaxTradeUSD = dec("20") }), size: "48.78"},
		// $50 a market, $45 held there: $5 left, 12.195121… → 12.19.
		{name: "the per-market cap cuts", leader: leader(func(l *polybot.Leader) { l.MaxMarketUSD = dec("50") }),
			st: CopyState{MarketSpent: dec("45")}, size: "12.19"},
		{name: "the per-market cap used up", leader: leader(func(l *polybot.Leader) { l.MaxMarketUSD = dec("50") }),
			st: CopyState{MarketSpent: dec("50")}, reason: "per-market cap is used up"},
		// $100 a day, $70 spent: $30 left of the $40: 73.17.
		{name: "the daily cap cuts", leader: leader(func(l *polybot.Leader) { l.MaxDayUSD = dec("100") }),
			st: CopyState{DaySpent: dec("70")}, size: "73.17"},
		{name: "the daily cap used up", leader: leader(func(l *polybot.Leader) { l.MaxDayUSD = dec("100") }),
			st: CopyState{DaySpent: dec("100")}, reason: "daily cap is used up"},
		{name: "below the minimum leader trade", leader: leader(func(l *polybot.Leader) { l.MinLeaderUSD = dec("100") }),
			reason: "below your minimum $100.00"},
		{name: "the price guard refuses a chase", leader: leader(nil), book: &bk{ask: "0.43", size: "1000"},
			reason: "price guard: the ask 0.43 is above the leader's 0.40 plus 0.02"},
		{name: "the price guard lets 2 cents through", leader: leader(nil), book: &bk{ask: "0.42", size: "1000"}, size: "95.23"},
		{name: "a stale trade", leader: leader(nil), trade: func(tr *polybot.LeaderTrade) { tr.Time = t0.Add(-75 * time.Second) },
			reason: "stale: the leader's trade is 1m15s old (limit 1m0s)"},
		{name: "too small for the venue", leader: leader(func(l *polybot.Leader) { l.Mode, l.FixedUSD = polybot.CopyFixed, dec("1") }),
			reason: "below the venue's minimum"},
		// Exits: the leader sells 50 of its 200: we sell a quarter of our 97.56 = 24.39.
		{name: "a partial exit", leader: leader(nil), trade: func(tr *polybot.LeaderTrade) { tr.Side, tr.Size = polybot.Sell, dec("50") },
			st: CopyState{HeldShares: dec("97.56"), LeaderHeld: dec("200")}, sell: "24.39"},
		{name: "a full exit", leader: leader(nil), trade: func(tr *polybot.LeaderTrade) { tr.Side = polybot.Sell },
			st: CopyState{HeldShares: dec("97.56"), LeaderHeld: dec("200")}, sell: "97.56"},
		{name: "a redemption exits in full", leader: leader(nil), trade: func(tr *polybot.LeaderTrade) { tr.Redeem, tr.Size = true, dec("10") },
			st: CopyState{HeldShares: dec("97.56"), LeaderHeld: dec("200")}, sell: "97.56"},
		{name: "a leader's sale with nothing held", leader: leader(nil), trade: func(tr *polybot.LeaderTrade) { tr.Side = polybot.Sell },
			reason: "nothing held"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := trade()
			if tc.trade != nil {
				tc.trade(tr)
			}
			b := tc.book
			if b == nil {
				b = book
			}
			st := tc.st
			st.Now = t0
			got := detector(DefaultFees()).Copy(tc.leader, tr, b.view(pmYes), st)
			switch {
			case tc.size != "":
				if got.Buy == nil || got.Buy.Size != dec(tc.size) || got.Buy.Strategy != polybot.StrategyCopy || !got.Buy.Direct ||
					got.Buy.Legs[0].Instrument != pmYes || got.Buy.PairID != "whale" {
					t.Fatalf("decision %+v (buy %+v), want a buy of %s", got, got.Buy, tc.size)
				}
			case tc.sell != "":
				if got.Buy != nil || got.Sell != dec(tc.sell) {
					t.Fatalf("decision %+v, want a sale of %s", got, tc.sell)
				}
			default:
				if got.Buy != nil || got.Sell.Sign() != 0 || !strings.Contains(got.Reason, tc.reason) {
					t.Fatalf("decision %+v, want a skip saying %q", got, tc.reason)
				}
			}
		})
	}
}
