package fee

import (
	"testing"

	"github.com/polybot/polybot"
)

var d = polybot.MustDecimal

// The worked examples are the venues' own. Polymarket:
// https://docs.polymarket.com/trading/fees ("Fee Tables (100 Shares)",
// shown there to the cent; the exact value is given here, and the table's
// cent in the name). The exponent-2 row is the January 2026 15-minute
// crypto schedule (rate 0.25, exponent 2), whose docs example was "100
// shares at $0.50 … about $1.56".
func TestPolymarketTakerFeeMatchesTheVenuesWorkedExamples(t *testing.T) {
	crypto := PolymarketSchedule{Rate: d("0.07"), Exponent: 1}
	politics := PolymarketSchedule{Rate: d("0.04")} // exponent unset: 1
	economics := PolymarketSchedule{Rate: d("0.05"), Exponent: 1}
	cases := []struct {
		name         string
		s            PolymarketSchedule
		price, count string
		want         string
	}{
		{"crypto 100 at 0.50: 100 × 0.07 × 0.25 = $1.75", crypto, "0.50", "100", "1.75"},
		{"crypto 100 at 0.10: 100 × 0.07 × 0.09 = $0.63", crypto, "0.10", "100", "0.63"},
		{"crypto 100 at 0.25: 1.3125 (table $1.31)", crypto, "0.25", "100", "1.3125"},
		{"crypto 100 at 0.05: 0.3325 (table $0.33)", crypto, "0.05", "100", "0.3325"},
		{"crypto 100 at 0.01: 0.0693 (table $0.07)", crypto, "0.01", "100", "0.0693"},
		{"symmetric: crypto 100 at 0.95 is 0.05's fee", crypto, "0.95", "100", "0.3325"},
		{"politics 100 at 0.50: $1.00", politics, "0.50", "100", "1"},
		{"economics 100 at 0.30: 100 × 0.05 × 0.21 = $1.05", economics, "0.30", "100", "1.05"},
		{"exponent 2, rate 0.25, 100 at 0.50: 100 × 0.25 × 0.0625 = 1.5625", PolymarketSchedule{Rate: d("0.25"), Exponent: 2}, "0.50", "100", "1.5625"},
		// Rounding: to 5 places, down; anything below 0.00001 is zero.
		{"1 share at 0.01, politics: 0.000396 → 0.00039", politics, "0.01", "1", "0.00039"},
		{"1 share at 0.37, economics: 0.011655 → 0.01165", economics, "0.37", "1", "0.01165"},
		{"0.01 share at 0.01: 0.00000396 rounds to zero", politics, "0.01", "0.01", "0"},
		{"exactly 0.00001 is charged: 0.02 × 0.002 × 0.25", PolymarketSchedule{Rate: d("0.002")}, "0.5", "0.02", "0.00001"},
		{"a fee-free market charges nothing", PolymarketSchedule{}, "0.50", "100", "0"},
		{"price 1 charges nothing", crypto, "1", "100", "0"},
		{"no shares, no fee", crypto, "0.5", "0", "0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.TakerFee(d(tc.price), d(tc.count)); got != d(tc.want) {
				t.Fatalf("fee(%s × %s) = %s, want %s", tc.count, tc.price, got, tc.want)
			}
			if got := tc.s.MakerFee(d(tc.price), d(tc.count)); !got.IsZero() {
				t.Fatalf("maker fee %s, want 0", got)
			}
		})
	}
}

func TestNewPolymarketScheduleAcceptsOnlyWholeExponents(t *testing.T) {
	cases := []struct {
		rate, exp string
		ok        bool
		want      PolymarketSchedule
	}{
		{"0.05", "1", true, PolymarketSchedule{Rate: d("0.05"), Exponent: 1}},
		{"0.25", "2", true, PolymarketSchedule{Rate: d("0.25"), Exponent: 2}},
		{"0", "0", true, PolymarketSchedule{}},
		{"0", "0.5", true, PolymarketSchedule{}},
		{"0.05", "0.5", false, PolymarketSchedule{}},
		{"0.05", "0", false, PolymarketSchedule{}},
		{"0.05", "5", false, PolymarketSchedule{}},
		{"-0.01", "1", false, PolymarketSchedule{}},
		{"1", "1", false, PolymarketSchedule{}},
	}
	for _, tc := range cases {
		got, err := NewPolymarketSchedule(d(tc.rate), d(tc.exp))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("NewPolymarketSchedule(%s, %s) = %+v, %v", tc.rate, tc.exp, got, err)
		}
	}
}

// Kalshi: https://kalshi.com/docs/kalshi-fee-schedule.pdf, "fees = round
// up(0.07 × C × P × (1−P))" with its table (1 contract at $0.50 → $0.02,
// 100 at $0.50 → $1.75, 100 at $0.25 → $1.32, 100 at $0.05 → $0.34), and
// maker fees round up(0.0175 × C × P × (1−P)) (100 at $0.50 → $0.44).
func TestKalshiFeeMatchesTheFeeSchedulesWorkedExamples(t *testing.T) {
	half := KalshiSchedule{Multiplier: d("0.5")}
	makers := KalshiSchedule{Type: KalshiQuadraticWithMakerFees}
	cases := []struct {
		name         string
		s            KalshiSchedule
		price, count string
		maker        bool
		want         string
	}{
		{"1 at 0.50: ceil(0.0175) = 0.02", KalshiSchedule{}, "0.50", "1", false, "0.02"},
		{"100 at 0.50: exactly 1.75", KalshiSchedule{}, "0.50", "100", false, "1.75"},
		{"100 at 0.25: ceil(1.3125) = 1.32", KalshiSchedule{}, "0.25", "100", false, "1.32"},
		{"100 at 0.05: ceil(0.3325) = 0.34", KalshiSchedule{}, "0.05", "100", false, "0.34"},
		{"1 at 0.90: ceil(0.0063) = 0.01", KalshiSchedule{}, "0.90", "1", false, "0.01"},
		{"an exact cent is not rounded up: 4 at 0.50 = 0.07", KalshiSchedule{}, "0.50", "4", false, "0.07"},
		{"a half-rate series halves before rounding: ceil(0.875) = 0.88", half, "0.50", "100", false, "0.88"},
		{"a maker pays nothing on a quadratic series", KalshiSchedule{}, "0.50", "100", true, "0"},
		{"a maker pays 0.0175 where the series charges makers: ceil(0.4375)", makers, "0.50", "100", true, "0.44"},
		{"flat: ceil(0.07 × 10) = 0.70 whatever the price", KalshiSchedule{Type: KalshiFlat}, "0.10", "10", false, "0.7"},
		{"price 1 pays nothing", KalshiSchedule{}, "1", "10", false, "0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.Fee(d(tc.price), d(tc.count), tc.maker); got != d(tc.want) {
				t.Fatalf("fee(%s × %s) = %s, want %s", tc.count, tc.price, got, tc.want)
			}
		})
	}
}

func TestKalshiScheduleForPrefersTheEventOverride(t *testing.T) {
	m := d("0.5")
	if got := KalshiScheduleFor(KalshiQuadratic, polybot.One, KalshiQuadraticWithMakerFees, &m); got != (KalshiSchedule{Type: KalshiQuadraticWithMakerFees, Multiplier: m}) {
		t.Fatalf("override ignored: %+v", got)
	}
	if got := KalshiScheduleFor(KalshiQuadratic, polybot.One, "", nil); got != (KalshiSchedule{Type: KalshiQuadratic, Multiplier: polybot.One}) {
		t.Fatalf("series schedule lost: %+v", got)
	}
}

func TestVenuesDispatchByVenueTokenAndTicker(t *testing.T) {
	v := Venues{
		Polymarket: Polymarket{Tokens: map[string]PolymarketSchedule{"tok": {Rate: d("0.05"), Exponent: 1}}},
		Kalshi: Kalshi{
			Series:  map[string]KalshiSchedule{"KXFED": {Multiplier: d("0.5")}},
			Markets: map[string]KalshiSchedule{"KXFED-25DEC-H0": {Multiplier: d("2")}},
		},
	}
	cases := []struct {
		name string
		inst polybot.Instrument
		want string
	}{
		{"a listed token: 100 × 0.05 × 0.25", polybot.Instrument{Venue: polybot.Polymarket, Token: "tok"}, "1.25"},
		{"another token: fee-free by default", polybot.Instrument{Venue: polybot.Polymarket, Token: "other"}, "0"},
		{"a listed market beats its series: ceil(3.5)", polybot.Instrument{Venue: polybot.Kalshi, Market: "KXFED-25DEC-H0"}, "3.5"},
		{"the series: ceil(0.875)", polybot.Instrument{Venue: polybot.Kalshi, Market: "KXFED-25DEC-C25"}, "0.88"},
		{"another series: the general schedule", polybot.Instrument{Venue: polybot.Kalshi, Market: "KXCPI-25DEC-T3"}, "1.75"},
		{"another venue: nothing", polybot.Instrument{Venue: "alpaca", Market: "SPY"}, "0"},
	}
	for _, tc := range cases {
		if got := v.TakerFee(tc.inst, d("0.5"), d("100")); got != d(tc.want) {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestFactsFallBackToTheVenueDefaults(t *testing.T) {
	f := &Facts{Tokens: map[string]Rules{"tiny": {MinSize: d("1"), Tick: d("0.001")}}}
	pm := func(tok string) polybot.Instrument { return polybot.Instrument{Venue: polybot.Polymarket, Token: tok} }
	if got := f.Rules(pm("tiny")); got != (Rules{Tick: d("0.001"), Lot: d("0.01"), MinSize: d("1")}) {
		t.Errorf("listed token: %+v", got)
	}
	if got := f.Rules(pm("other")); got != PolymarketDefaultRules {
		t.Errorf("default token: %+v", got)
	}
	var none *Facts
	if got := none.Rules(polybot.Instrument{Venue: polybot.Kalshi, Market: "K"}); got != KalshiDefaultRules {
		t.Errorf("nil facts, Kalshi: %+v", got)
	}
	// IBKR ForecastEx: $0.01 ticks, whole contracts. Alpaca limit orders:
	// whole shares on a cent tick.
	whole := Rules{Tick: d("0.01"), Lot: d("1"), MinSize: d("1")}
	for _, p := range []polybot.Platform{polybot.IBKR, polybot.Alpaca} {
		if got := f.Rules(polybot.Instrument{Venue: p, Token: "tiny"}); got != whole {
			t.Errorf("%s: %+v", p, got)
		}
	}
}

func TestRulesSizeRoundsToTheLotAndChecksTheMinimum(t *testing.T) {
	cases := []struct {
		r     Rules
		count string
		want  string
		ok    bool
	}{
		{PolymarketDefaultRules, "12.345", "12.34", true},
		{PolymarketDefaultRules, "5", "5", true},
		{PolymarketDefaultRules, "4.999", "4.99", false},
		{KalshiDefaultRules, "2.9", "2", true},
		{KalshiDefaultRules, "0.9", "0", false},
	}
	for _, tc := range cases {
		got, ok := tc.r.Size(d(tc.count))
		if got != d(tc.want) || ok != tc.ok {
			t.Errorf("Size(%s) = %s, %v; want %s, %v", tc.count, got, ok, tc.want, tc.ok)
		}
	}
	if !KalshiDefaultRules.OnTick(d("0.45")) || KalshiDefaultRules.OnTick(d("0.455")) {
		t.Error("OnTick")
	}
}

// IBKR: ForecastEx contracts are zero-commission
// (https://forecasttrader.interactivebrokers.ca/en/home.php); US stocks
// $0.005 a share, $1.00 at least (https://ibkr.info/ja/tag/market-data),
// worked by hand.
func TestIBKRCommissionIsZeroOnForecastExAndFixedOnStocks(t *testing.T) {
	event := polybot.Instrument{Venue: polybot.IBKR, Market: "722489372", Outcome: polybot.No}
	spy := polybot.Instrument{Venue: polybot.IBKR, Market: "SPY"}
	cases := []struct {
		name         string
		inst         polybot.Instrument
		price, count string
		want         string
	}{
		{"ForecastEx, 100 at 0.50: zero commission", event, "0.50", "100", "0"},
		{"ForecastEx, 5000 at 0.99: still zero", event, "0.99", "5000", "0"},
		{"SPY, 10 shares: 0.05, the $1.00 minimum", spy, "500", "10", "1"},
		{"SPY, 200 shares: exactly 1.00", spy, "500", "200", "1"},
		{"SPY, 300 shares: 1.50", spy, "500", "300", "1.5"},
		{"SPY, 333 shares: 1.665 rounds up to 1.67", spy, "500", "333", "1.67"},
		{"SPY, 0.5 share: the minimum", spy, "500", "0.5", "1"},
		{"no shares, no fee", spy, "500", "0", "0"},
	}
	for _, tc := range cases {
		if got := (Venues{}).TakerFee(tc.inst, d(tc.price), d(tc.count)); got != d(tc.want) {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	if r := (*Facts)(nil).Rules(event); r != IBKRDefaultRules || !r.OnTick(d("0.37")) || r.OnTick(d("0.375")) {
		t.Errorf("ForecastEx rules %+v", r)
	}
	if got, ok := IBKRDefaultRules.Size(d("2.7")); got != d("2") || !ok {
		t.Errorf("ForecastEx trades whole contracts: %s %v", got, ok)
	}
}
