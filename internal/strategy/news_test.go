package strategy

import (
	"testing"
	"time"

	"github.com/polybot/polybot"
)

// cutRule buys NO on "the Fed holds" (a cut) when one venue has repriced
// by 10 cents and the other has not.
func cutRule(mode string) *polybot.NewsRule {
	r := &polybot.NewsRule{ID: "williams-cut", Name: "Williams sees room to cut", Enabled: true, AnyOf: []string{"williams"},
		Mode: mode, Pairs: []string{"fed-dec2025-hold"}, Outcome: polybot.No, MaxPrice: dec("0.50"), MaxSize: dec("50"),
		Threshold: dec("0.10")}
	if mode == polybot.NewsDirect {
		r.Pairs, r.Threshold = nil, polybot.Zero
		r.Markets = []polybot.BinaryMarket{{Yes: kYes, No: kNo}}
	}
	return r
}

func TestNewsLag(t *testing.T) {
	// At the headline both venues bid 0.38 for NO.
	base := LagBase{A: dec("0.38"), B: dec("0.38"), At: t0.Add(-time.Minute)}
	tests := []struct {
		name      string
		maxPrice  string
		pmNo, kNo *bk
		want      *wantOpp
		target    string
	}{
		{
			// Polymarket's NO bid rose 0.22 (≥ 0.10), Kalshi's 0.02 (< 0.05):
			// buy 50 Kalshi NO at 0.42 to sell near 0.60. Kalshi's fees on 50:
			// ceil(0.07 × 50 × 0.42 × 0.58 = 0.8526) = 0.86 → 0.0172 a contract
			// to buy, ceil(0.07 × 50 × 0.60 × 0.40 = 0.84) = 0.84 → 0.0168 to
			// sell. 0.18 − 0.034 = 0.146 net on 0.4372: 33.394327%.
			name: "Kalshi lags Polymarket", maxPrice: "0.50",
			pmNo: &bk{ask: "0.62", size: "100", bid: "0.60"}, kNo: &bk{ask: "0.42", size: "100", bid: "0.40"},
			want: &wantOpp{legs: []wantLeg{{kNo, "0.42", "0.0172"}}, size: "50", cost: "0.4372", gross: "0.18", fees: "0.034",
				net: "0.146", profitPct: "33.394327"}, target: "0.60",
		},
		{
			// Kalshi led (+0.22); Polymarket (fee-free) lags at +0.01: buy 30
			// Polymarket NO at 0.41, all that is shown, to sell near 0.60. The
			// exit on Polymarket is fee-free too: 0.19 on 0.41, 46.341463%.
			name: "Polymarket lags Kalshi", maxPrice: "0.50",
			pmNo: &bk{ask: "0.41", size: "30", bid: "0.39"}, kNo: &bk{ask: "0.62", size: "100", bid: "0.60"},
			want: &wantOpp{legs: []wantLeg{{pmNo, "0.41", "0"}}, size: "30", cost: "0.41", gross: "0.19", fees: "0",
				net: "0.19", profitPct: "46.341463"}, target: "0.60",
		},
		{
			name: "both venues have already moved: nothing to catch", maxPrice: "0.50",
			pmNo: &bk{ask: "0.62", size: "100", bid: "0.60"}, kNo: &bk{ask: "0.59", size: "100", bid: "0.57"},
		},
		{
			name: "neither has moved by the threshold", maxPrice: "0.50",
			pmNo: &bk{ask: "0.47", size: "100", bid: "0.45"}, kNo: &bk{ask: "0.42", size: "100", bid: "0.40"},
		},
		{
			name: "the laggard's ask is above the rule's max price", maxPrice: "0.40",
			pmNo: &bk{ask: "0.62", size: "100", bid: "0.60"}, kNo: &bk{ask: "0.42", size: "100", bid: "0.40"},
		},
		{
			name: "a move the wrong way (NO fell) is no signal", maxPrice: "0.50",
			pmNo: &bk{ask: "0.18", size: "100", bid: "0.16"}, kNo: &bk{ask: "0.42", size: "100", bid: "0.40"},
		},
		{
			// Gross 0.60 − 0.59 = 0.01 < Kalshi's fees (0.0172 + 0.0168).
			name: "nothing left after fees", maxPrice: "0.60",
			pmNo: &bk{ask: "0.62", size: "100", bid: "0.60"}, kNo: &bk{ask: "0.59", size: "100", bid: "0.40"},
		},
		{
			name: "a stale laggard book is never traded", maxPrice: "0.50",
			pmNo: &bk{ask: "0.62", size: "100", bid: "0.60"}, kNo: &bk{ask: "0.42", size: "100", bid: "0.40", stale: true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := cutRule(polybot.NewsLag)
			r.MaxPrice = dec(tc.maxPrice)
			books := CrossBooks{ANo: tc.pmNo.view(pmNo), BNo: tc.kNo.view(kNo),
				AYes: (&bk{ask: "0.99", size: "1"}).view(pmYes), BYes: (&bk{ask: "0.99", size: "1"}).view(kYes)}
			o := detector(DefaultFees()).NewsLag(r, fedPair(), base, books)
			checkOpp(t, o, polybot.StrategyNews, tc.want)
			if o != nil && (o.Target != dec(tc.target) || o.Direct || o.PairID != r.ID) {
				t.Errorf("target %s direct %v pair %s, want target %s for rule %s", o.Target, o.Direct, o.PairID, tc.target, r.ID)
			}
		})
	}
}

func TestNewsDirectBuysTheOutcomeUpToTheMaxPrice(t *testing.T) {
	d := detector(DefaultFees())
	r := cutRule(polybot.NewsDirect)
	// 50 Kalshi NO at 0.45 (of 80 shown): fee ceil(0.07 × 50 × 0.45 × 0.55 =
	// 0.86625) = 0.87, 0.0174 a contract; no edge is claimed.
	o := d.NewsDirect(r, (&bk{ask: "0.45", size: "80", bid: "0.43"}).view(kNo))
	if o == nil || !o.Direct || o.Size != dec("50") || o.Legs[0].Price != dec("0.45") || o.Legs[0].Fee != dec("0.0174") ||
		o.Cost != dec("0.4674") || !o.NetEdge.IsZero() || o.Strategy != polybot.StrategyNews {
		t.Fatalf("direct buy %+v", o)
	}
	if d.NewsDirect(r, (&bk{ask: "0.51", size: "80"}).view(kNo)) != nil {
		t.Error("bought above the rule's max price")
	}
	if d.NewsDirect(r, (&bk{ask: "0.45", size: "80"}).view(kYes)) != nil {
		t.Error("bought the other outcome")
	}
	// A tenant at 5% minimum profit still takes a direct buy; Resize prices
	// a smaller order with its own fee: 10 at 0.45 pays ceil(0.17325) = 0.18.
	cfg := &polybot.Config{EnableNewsArbitrage: true, EnableKalshi: true, MinProfitPct: dec("5")}
	if !Wants(cfg, polybot.Features{NewsArbitrage: true}, o) {
		t.Error("a direct buy held to min_profit_pct")
	}
	small, ok := d.Resize(o, dec("10"))
	if !ok || small.Size != dec("10") || small.Legs[0].Fee != dec("0.018") || small.Cost != dec("0.468") {
		t.Fatalf("resized %+v %v", small, ok)
	}
}
