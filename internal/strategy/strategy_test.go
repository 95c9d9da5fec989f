package strategy

import (
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/fee"
	"github.com/polybot/polybot/internal/marketdata"
)

// Every expected number in this file was worked by hand (and checked with
// exact fractions): Kalshi's taker fee is ceil(0.07 × C × P × (1−P)) to the
// cent per order, Polymarket's is C × rate × P × (1−P) rounded down to
// 0.00001 (the market's fee schedule, exponent 1; the default is fee-free),
// and a leg's fee per set is that order fee / C rounded up to the
// micro-dollar. Polymarket orders are at least 5 shares (fee.Facts'
// default), Kalshi's 1 contract.

// pmRate is a fee model with Kalshi's general schedule and every
// Polymarket token at rate (exponent 1).
func pmRate(rate string) fee.Venues {
	return fee.Venues{Polymarket: fee.Polymarket{Default: fee.PolymarketSchedule{Rate: dec(rate), Exponent: 1}}}
}

var t0 = time.Date(2025, 12, 1, 15, 0, 0, 0, time.UTC)

func dec(s string) polybot.Decimal { return polybot.MustDecimal(s) }

const (
	pmYesToken = "pm-yes-token"
	pmNoToken  = "pm-no-token"
	kTicker    = "KXFEDDECISION-25DEC-H0"
)

var (
	pmYes = polybot.Instrument{Venue: polybot.Polymarket, Market: "0xcond", Token: pmYesToken, Outcome: polybot.Yes}
	pmNo  = polybot.Instrument{Venue: polybot.Polymarket, Market: "0xcond", Token: pmNoToken, Outcome: polybot.No}
	kYes  = polybot.Instrument{Venue: polybot.Kalshi, Market: kTicker, Outcome: polybot.Yes}
	kNo   = polybot.Instrument{Venue: polybot.Kalshi, Market: kTicker, Outcome: polybot.No}
)

func fedPair() *polybot.MarketPair {
	return &polybot.MarketPair{ID: "fed-dec2025-hold", Name: "Fed holds in December 2025", Legs: [2]polybot.PairLeg{polybot.PolymarketLeg("0xcond", pmYesToken, pmNoToken), polybot.KalshiLeg(kTicker)}, Approved: true}
}

// bk describes a book: its best ask (and optionally best bid), how old its
// quote is, and whether the hub marks it stale.
type bk struct {
	ask, size string
	bid       string
	age       time.Duration
	stale     bool
	version   uint64
}

func (b *bk) view(inst polybot.Instrument) *marketdata.View {
	if b == nil {
		return nil
	}
	v := &marketdata.View{Instrument: inst, Version: b.version, Received: t0.Add(-b.age), Time: t0.Add(-b.age - time.Second), Stale: b.stale}
	if v.Version == 0 {
		v.Version = 1
	}
	if b.ask != "" {
		v.Asks = []polybot.Level{{Price: dec(b.ask), Size: dec(b.size)}}
	}
	if b.bid != "" {
		v.Bids = []polybot.Level{{Price: dec(b.bid), Size: dec("10")}}
	}
	return v
}

// perContract is a test fee model: a fixed fee per contract on every venue.
type perContract string

func (f perContract) TakerFee(_ polybot.Instrument, _, count polybot.Decimal) polybot.Decimal {
	return dec(string(f)).Mul(count)
}

var noFees = perContract("0")

func detector(fees FeeModel) *Detector {
	return New(Config{Fees: fees, MaxQuoteAge: 5 * time.Second, Now: func() time.Time { return t0 }})
}

type wantLeg struct {
	inst       polybot.Instrument
	price, fee string
}

type wantOpp struct {
	legs                                    []wantLeg
	size, cost, gross, fees, net, profitPct string
}

func checkOpp(t *testing.T, o *polybot.Opportunity, strategy string, w *wantOpp) {
	t.Helper()
	if w == nil {
		if o != nil {
			t.Fatalf("got an opportunity %+v, want none", o)
		}
		return
	}
	if o == nil {
		t.Fatal("got no opportunity, want one")
	}
	if o.Strategy != strategy {
		t.Errorf("strategy %q, want %q", o.Strategy, strategy)
	}
	if len(o.Legs) != len(w.legs) {
		t.Fatalf("%d legs, want %d", len(o.Legs), len(w.legs))
	}
	for i, wl := range w.legs {
		l := o.Legs[i]
		if l.Instrument != wl.inst || l.Side != polybot.Buy || l.Price != dec(wl.price) || l.Fee != dec(wl.fee) {
			t.Errorf("leg %d: %v %v at %s fee %s; want BUY %v at %s fee %s",
				i, l.Side, l.Instrument, l.Price, l.Fee, wl.inst, wl.price, wl.fee)
		}
	}
	for _, c := range []struct {
		name string
		got  polybot.Decimal
		want string
	}{
		{"size", o.Size, w.size}, {"cost", o.Cost, w.cost}, {"gross edge", o.GrossEdge, w.gross},
		{"fees", o.Fees, w.fees}, {"net edge", o.NetEdge, w.net}, {"profit pct", o.ProfitPct, w.profitPct},
	} {
		if c.got != dec(c.want) {
			t.Errorf("%s = %s, want %s", c.name, c.got, c.want)
		}
	}
	if !o.DetectedAt.Equal(t0) {
		t.Errorf("detected at %v, want %v", o.DetectedAt, t0)
	}
	if len(o.ID) != 34 {
		t.Errorf("id %q, want op + 32 hex", o.ID)
	}
}

func TestCrossPlatform(t *testing.T) {
	// The other direction costs 0.56 + 0.56: never profitable unless a case
	// sets it.
	dear := &bk{ask: "0.56", size: "100"}
	tests := []struct {
		name           string
		fees           FeeModel
		pair           *polybot.MarketPair
		kYes, pmNo     *bk
		pmYes, kNo     *bk
		kYesInstrument *polybot.Instrument
		want           *wantOpp
	}{
		{
			name: "Kalshi YES at 0.45 plus Polymarket NO at 0.52 costs 0.97 per set for 0.03 gross",
			fees: noFees, kYes: &bk{ask: "0.45", size: "100"}, pmNo: &bk{ask: "0.52", size: "250"}, pmYes: dear, kNo: dear,
			want: &wantOpp{legs: []wantLeg{{kYes, "0.45", "0"}, {pmNo, "0.52", "0"}},
				size: "100", cost: "0.97", gross: "0.03", fees: "0", net: "0.03", profitPct: "3.092783"}, // 3/0.97 = 3.0927835…
		},
		{
			// Kalshi: ceil(0.07 × 100 × 0.45 × 0.55 = 1.7325) = $1.74 for the
			// order, 0.0174 a set; Polymarket without a fee schedule is free.
			name: "Kalshi's fee on 100 contracts at 0.45 leaves 0.0126 of the 0.03 gross",
			fees: DefaultFees(), kYes: &bk{ask: "0.45", size: "100"}, pmNo: &bk{ask: "0.52", size: "250"}, pmYes: dear, kNo: dear,
			want: &wantOpp{legs: []wantLeg{{kYes, "0.45", "0.0174"}, {pmNo, "0.52", "0"}},
				size: "100", cost: "0.9874", gross: "0.03", fees: "0.0174", net: "0.0126", profitPct: "1.276078"}, // 1.26/0.9874
		},
		{
			name: "the cheaper direction is chosen: Polymarket YES 0.40 + Kalshi NO 0.55 (0.95) over 0.97",
			fees: noFees, kYes: &bk{ask: "0.45", size: "100"}, pmNo: &bk{ask: "0.52", size: "100"},
			pmYes: &bk{ask: "0.40", size: "100"}, kNo: &bk{ask: "0.55", size: "100"},
			want: &wantOpp{legs: []wantLeg{{pmYes, "0.40", "0"}, {kNo, "0.55", "0"}},
				size: "100", cost: "0.95", gross: "0.05", fees: "0", net: "0.05", profitPct: "5.263157"}, // 5/0.95 = 5.2631578…
		},
		{
			// Before fees 0.97 < 0.98, but Kalshi charges 0.0174 a set at 0.45
			// and only ceil(0.07 × 100 × 0.93 × 0.07 = 0.4557) = 0.46 → 0.0046
			// at 0.93: 0.9874 against 0.9846.
			name: "the cheaper direction is judged after fees",
			fees: DefaultFees(), kYes: &bk{ask: "0.45", size: "100"}, pmNo: &bk{ask: "0.52", size: "100"},
			pmYes: &bk{ask: "0.05", size: "100"}, kNo: &bk{ask: "0.93", size: "100"},
			want: &wantOpp{legs: []wantLeg{{pmYes, "0.05", "0"}, {kNo, "0.93", "0.0046"}},
				size: "100", cost: "0.9846", gross: "0.02", fees: "0.0046", net: "0.0154", profitPct: "1.564086"}, // 1.54/0.9846
		},
		{
			// ceil(0.07 × 40 × 0.2475 = 0.693) = 0.70 → 0.0175 a set.
			name: "the fillable size is the thinner leg's (Kalshi 40 against Polymarket 1000)",
			fees: DefaultFees(), kYes: &bk{ask: "0.45", size: "40"}, pmNo: &bk{ask: "0.52", size: "1000"}, pmYes: dear, kNo: dear,
			want: &wantOpp{legs: []wantLeg{{kYes, "0.45", "0.0175"}, {pmNo, "0.52", "0"}},
				size: "40", cost: "0.9875", gross: "0.03", fees: "0.0175", net: "0.0125", profitPct: "1.265822"}, // 1.25/0.9875
		},
		{
			// 37.55 shares make 37 whole Kalshi contracts; ceil(0.07 × 37 ×
			// 0.2475 = 0.641025) = 0.65, 0.65/37 = 0.0175675… → 0.017568.
			name: "a thinner Polymarket leg is rounded down to whole Kalshi contracts",
			fees: DefaultFees(), kYes: &bk{ask: "0.45", size: "500"}, pmNo: &bk{ask: "0.52", size: "37.55"}, pmYes: dear, kNo: dear,
			want: &wantOpp{legs: []wantLeg{{kYes, "0.45", "0.017568"}, {pmNo, "0.52", "0"}},
				size: "37", cost: "0.987568", gross: "0.03", fees: "0.017568", net: "0.012432", profitPct: "1.25885"}, // 1.2432/0.987568 = 1.2588500…
		},
		{
			name: "less than one contract on the thinner leg yields nothing",
			fees: noFees, kYes: &bk{ask: "0.45", size: "100"}, pmNo: &bk{ask: "0.52", size: "0.99"}, pmYes: dear, kNo: dear,
		},
		{
			name: "4 cents of fees per set turn a 3-cent gross edge into no trade",
			fees: perContract("0.02"), kYes: &bk{ask: "0.45", size: "100"}, pmNo: &bk{ask: "0.52", size: "250"}, pmYes: dear, kNo: dear,
		},
		{
			// Kalshi 0.0174 + Polymarket crypto rate 100 × 0.07 × 0.52 × 0.48
			// = 1.7472 → 0.017472 a set: 0.034872 against 0.03.
			name: "Kalshi's fee plus Polymarket's crypto rate (0.07) turn a 3-cent gross edge into no trade",
			fees: pmRate("0.07"), kYes: &bk{ask: "0.45", size: "100"}, pmNo: &bk{ask: "0.52", size: "250"}, pmYes: dear, kNo: dear,
		},
		{
			// Kalshi 0.0174 + Polymarket economics rate 100 × 0.05 × 0.2496 =
			// 1.248 → 0.01248: 0.02988 a set, 0.00012 net; 0.012/0.99988 =
			// 0.0120014…%.
			name: "Polymarket's economics rate (0.05) leaves 0.00012 of the 3 cents",
			fees: pmRate("0.05"), kYes: &bk{ask: "0.45", size: "100"}, pmNo: &bk{ask: "0.52", size: "250"}, pmYes: dear, kNo: dear,
			want: &wantOpp{legs: []wantLeg{{kYes, "0.45", "0.0174"}, {pmNo, "0.52", "0.01248"}},
				size: "100", cost: "0.99988", gross: "0.03", fees: "0.02988", net: "0.00012", profitPct: "0.012001"},
		},
		{
			name: "fees exactly equal to the gross edge leave nothing to trade",
			fees: perContract("0.015"), kYes: &bk{ask: "0.45", size: "100"}, pmNo: &bk{ask: "0.52", size: "250"}, pmYes: dear, kNo: dear,
		},
		{
			name: "a stale quote is never traded (Kalshi YES 6s old, max age 5s)",
			fees: noFees, kYes: &bk{ask: "0.45", size: "100", age: 6 * time.Second}, pmNo: &bk{ask: "0.52", size: "250"}, pmYes: dear, kNo: dear,
		},
		{
			name: "a quote exactly at the max age is still traded",
			fees: noFees, kYes: &bk{ask: "0.45", size: "100", age: 5 * time.Second}, pmNo: &bk{ask: "0.52", size: "250"}, pmYes: dear, kNo: dear,
			want: &wantOpp{legs: []wantLeg{{kYes, "0.45", "0"}, {pmNo, "0.52", "0"}},
				size: "100", cost: "0.97", gross: "0.03", fees: "0", net: "0.03", profitPct: "3.092783"},
		},
		{
			name: "a stale quote takes its direction out, and the other direction is still found",
			fees: noFees, kYes: &bk{ask: "0.40", size: "100", age: time.Minute}, pmNo: &bk{ask: "0.52", size: "100"},
			pmYes: &bk{ask: "0.45", size: "100"}, kNo: &bk{ask: "0.53", size: "60"},
			want: &wantOpp{legs: []wantLeg{{pmYes, "0.45", "0"}, {kNo, "0.53", "0"}},
				size: "60", cost: "0.98", gross: "0.02", fees: "0", net: "0.02", profitPct: "2.040816"}, // 2/0.98
		},
		{
			name: "a book the hub is resynchronising is never traded",
			fees: noFees, kYes: &bk{ask: "0.45", size: "100", stale: true}, pmNo: &bk{ask: "0.52", size: "250"}, pmYes: dear, kNo: dear,
		},
		{
			name: "a crossed book yields nothing",
			fees: noFees, kYes: &bk{ask: "0.45", size: "100", bid: "0.46"}, pmNo: &bk{ask: "0.52", size: "250"}, pmYes: dear, kNo: dear,
		},
		{
			name: "a locked book yields nothing",
			fees: noFees, kYes: &bk{ask: "0.45", size: "100"}, pmNo: &bk{ask: "0.52", size: "250", bid: "0.52"}, pmYes: dear, kNo: dear,
		},
		{
			name: "an empty ask side yields nothing",
			fees: noFees, kYes: &bk{ask: "0.45", size: "100"}, pmNo: &bk{bid: "0.40"}, pmYes: dear, kNo: dear,
		},
		{
			name: "missing books only skip the directions that need them",
			fees: noFees, kYes: &bk{ask: "0.45", size: "100"}, pmNo: &bk{ask: "0.52", size: "250"},
			want: &wantOpp{legs: []wantLeg{{kYes, "0.45", "0"}, {pmNo, "0.52", "0"}},
				size: "100", cost: "0.97", gross: "0.03", fees: "0", net: "0.03", profitPct: "3.092783"},
		},
		{
			name: "a pair an admin has not approved is never traded",
			fees: noFees, pair: &polybot.MarketPair{ID: "x", Legs: [2]polybot.PairLeg{polybot.PolymarketLeg("", pmYesToken, pmNoToken), polybot.KalshiLeg(kTicker)}},
			kYes: &bk{ask: "0.45", size: "100"}, pmNo: &bk{ask: "0.52", size: "250"}, pmYes: dear, kNo: dear,
		},
		{
			name: "a view of another market yields nothing",
			fees: noFees, kYesInstrument: &polybot.Instrument{Venue: polybot.Kalshi, Market: "KXOTHER-1", Outcome: polybot.Yes},
			kYes: &bk{ask: "0.45", size: "100"}, pmNo: &bk{ask: "0.52", size: "250"}, pmYes: dear, kNo: dear,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pair := tc.pair
			if pair == nil {
				pair = fedPair()
			}
			ky := kYes
			if tc.kYesInstrument != nil {
				ky = *tc.kYesInstrument
			}
			books := CrossBooks{AYes: tc.pmYes.view(pmYes), ANo: tc.pmNo.view(pmNo),
				BYes: tc.kYes.view(ky), BNo: tc.kNo.view(kNo)}
			o := detector(tc.fees).CrossPlatform(pair, books)
			checkOpp(t, o, polybot.StrategyCrossPlatform, tc.want)
			if o != nil && o.PairID != pair.ID {
				t.Errorf("pair id %q, want %q", o.PairID, pair.ID)
			}
		})
	}
}

func TestSinglePlatform(t *testing.T) {
	tests := []struct {
		name    string
		fees    FeeModel
		yesInst polybot.Instrument
		noInst  polybot.Instrument
		yes, no *bk
		want    *wantOpp
	}{
		{
			name: "Polymarket YES 0.48 plus NO 0.50 costs 0.98 for 0.02, free without a fee schedule",
			fees: DefaultFees(), yesInst: pmYes, noInst: pmNo,
			yes: &bk{ask: "0.48", size: "500"}, no: &bk{ask: "0.50", size: "300"},
			want: &wantOpp{legs: []wantLeg{{pmYes, "0.48", "0"}, {pmNo, "0.50", "0"}},
				size: "300", cost: "0.98", gross: "0.02", fees: "0", net: "0.02", profitPct: "2.040816"},
		},
		{
			// Politics rate 0.04 on 300 shares: 300 × 0.04 × 0.48 × 0.52 =
			// 2.9952 → 0.009984 a set; 300 × 0.04 × 0.25 = 3 → 0.01.
			// 0.0016/0.999984 = 0.00160002…%.
			name: "Polymarket's politics rate (0.04) pays 0.019984 a set of the 0.02",
			fees: pmRate("0.04"), yesInst: pmYes, noInst: pmNo,
			yes: &bk{ask: "0.48", size: "500"}, no: &bk{ask: "0.50", size: "300"},
			want: &wantOpp{legs: []wantLeg{{pmYes, "0.48", "0.009984"}, {pmNo, "0.50", "0.01"}},
				size: "300", cost: "0.999984", gross: "0.02", fees: "0.019984", net: "0.000016", profitPct: "0.0016"},
		},
		{
			name: "a Polymarket leg below the market's 5-share minimum is not traded",
			fees: DefaultFees(), yesInst: pmYes, noInst: pmNo,
			yes: &bk{ask: "0.48", size: "500"}, no: &bk{ask: "0.50", size: "4.99"},
		},
		{
			name: "a Polymarket set keeps fractional shares down to the cent",
			fees: DefaultFees(), yesInst: pmYes, noInst: pmNo,
			yes: &bk{ask: "0.48", size: "500"}, no: &bk{ask: "0.50", size: "123.456"},
			want: &wantOpp{legs: []wantLeg{{pmYes, "0.48", "0"}, {pmNo, "0.50", "0"}},
				size: "123.45", cost: "0.98", gross: "0.02", fees: "0", net: "0.02", profitPct: "2.040816"},
		},
		{
			// ceil(0.07 × 100 × 0.40 × 0.60 = 1.68) = 1.68 → 0.0168;
			// ceil(0.07 × 100 × 0.50 × 0.50 = 1.75) = 1.75 → 0.0175.
			name: "Kalshi YES 0.40 plus NO 0.50 pays both legs' fees, 0.0343 of the 0.10",
			fees: DefaultFees(), yesInst: kYes, noInst: kNo,
			yes: &bk{ask: "0.40", size: "100"}, no: &bk{ask: "0.50", size: "150"},
			want: &wantOpp{legs: []wantLeg{{kYes, "0.40", "0.0168"}, {kNo, "0.50", "0.0175"}},
				size: "100", cost: "0.9343", gross: "0.1", fees: "0.0343", net: "0.0657", profitPct: "7.032002"}, // 6.57/0.9343
		},
		{
			// 80 contracts: ceil(1.386) = 1.39 → 0.017375 and ceil(1.39776) =
			// 1.40 → 0.0175, 0.034875 against 0.03.
			name: "Kalshi's fees on both legs eat a 3-cent edge",
			fees: DefaultFees(), yesInst: kYes, noInst: kNo,
			yes: &bk{ask: "0.45", size: "80"}, no: &bk{ask: "0.52", size: "80"},
		},
		{
			// YES ask 0.50 is 1 − the NO bid 0.50; NO ask 0.52 is 1 − the YES
			// bid 0.48: on a consistent book the asks sum to 2 − the bids ≥ 1.
			name: "a consistent Kalshi book never pays",
			fees: noFees, yesInst: kYes, noInst: kNo,
			yes: &bk{ask: "0.50", size: "100", bid: "0.48"}, no: &bk{ask: "0.52", size: "100", bid: "0.50"},
		},
		{
			name: "YES and NO on different venues are not a single-platform market",
			fees: noFees, yesInst: pmYes, noInst: kNo,
			yes: &bk{ask: "0.40", size: "100"}, no: &bk{ask: "0.50", size: "100"},
		},
		{
			name: "two views of one Polymarket token are not a market",
			fees: noFees, yesInst: pmYes, noInst: pmYes,
			yes: &bk{ask: "0.40", size: "100"}, no: &bk{ask: "0.50", size: "100"},
		},
		{
			name: "Kalshi YES and NO of different tickers are not a market",
			fees: noFees, yesInst: kYes, noInst: polybot.Instrument{Venue: polybot.Kalshi, Market: "KXOTHER-1", Outcome: polybot.No},
			yes: &bk{ask: "0.40", size: "100"}, no: &bk{ask: "0.50", size: "100"},
		},
		{
			name: "a stale quote is never traded",
			fees: noFees, yesInst: pmYes, noInst: pmNo,
			yes: &bk{ask: "0.48", size: "500", age: 10 * time.Second}, no: &bk{ask: "0.50", size: "300"},
		},
		{
			name: "a price of 0 is not a quote",
			fees: noFees, yesInst: pmYes, noInst: pmNo,
			yes: &bk{ask: "0", size: "500"}, no: &bk{ask: "0.50", size: "300"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := detector(tc.fees).SinglePlatform(tc.yes.view(tc.yesInst), tc.no.view(tc.noInst))
			checkOpp(t, o, polybot.StrategySinglePlatform, tc.want)
		})
	}
}

func TestOpportunityIDFollowsBookState(t *testing.T) {
	books := func(kYesVersion uint64) CrossBooks {
		return CrossBooks{BYes: (&bk{ask: "0.45", size: "100", version: kYesVersion}).view(kYes),
			ANo: (&bk{ask: "0.52", size: "250"}).view(pmNo)}
	}
	d1 := detector(noFees)
	later := New(Config{Fees: DefaultFees(), MaxQuoteAge: time.Minute, Now: func() time.Time { return t0.Add(time.Second) }})
	a := d1.CrossPlatform(fedPair(), books(7))
	b := later.CrossPlatform(fedPair(), books(7))
	c := d1.CrossPlatform(fedPair(), books(8))
	if a == nil || b == nil || c == nil {
		t.Fatal("want three opportunities")
	}
	if a.ID != b.ID {
		t.Errorf("the same books gave %s and %s (detected later, other fees): want one id", a.ID, b.ID)
	}
	if a.ID == c.ID {
		t.Errorf("a new book version kept id %s", a.ID)
	}
	s := d1.SinglePlatform((&bk{ask: "0.45", size: "100", version: 7}).view(pmYes), (&bk{ask: "0.52", size: "250"}).view(pmNo))
	if s == nil || s.ID == a.ID {
		t.Errorf("single-platform id %v must differ from cross-platform %s", s, a.ID)
	}
}

func TestResizeRepricesFeesForTheSmallerOrder(t *testing.T) {
	d := detector(DefaultFees())
	o := d.CrossPlatform(fedPair(), CrossBooks{BYes: (&bk{ask: "0.45", size: "100"}).view(kYes),
		ANo: (&bk{ask: "0.52", size: "250"}).view(pmNo)})
	if o == nil {
		t.Fatal("no opportunity")
	}
	tests := []struct {
		name                 string
		sets                 string
		ok                   bool
		size, fee, net, cost string
	}{
		// ceil(0.07 × 7 × 0.2475 = 0.121275) = 0.13; 0.13/7 = 0.0185714… → 0.018572.
		{"7 sets pay 13 cents, 0.018572 a set", "7", true, "7", "0.018572", "0.011428", "0.988572"},
		// ceil(0.07 × 5 × 0.2475 = 0.086625) = 0.09 → 0.018 a set.
		{"5 sets, Polymarket's minimum order, pay 9 cents", "5", true, "5", "0.018", "0.012", "0.988"},
		{"3 sets are below Polymarket's 5-share minimum", "3", false, "", "", "", ""},
		{"more than the book shows is capped at its size", "500", true, "100", "0.0174", "0.0126", "0.9874"},
		{"a fraction of a contract is rounded down", "7.9", true, "7", "0.018572", "0.011428", "0.988572"},
		{"less than a contract is nothing", "0.5", false, "", "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, ok := d.Resize(o, dec(tc.sets))
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			if r.Size != dec(tc.size) || r.Legs[0].Fee != dec(tc.fee) || r.NetEdge != dec(tc.net) || r.Cost != dec(tc.cost) || r.ID != o.ID {
				t.Errorf("size %s fee %s net %s cost %s id %s; want %s %s %s %s %s",
					r.Size, r.Legs[0].Fee, r.NetEdge, r.Cost, r.ID, tc.size, tc.fee, tc.net, tc.cost, o.ID)
			}
		})
	}
	if o.Size != dec("100") || o.Legs[0].Fee != dec("0.0174") {
		t.Errorf("Resize changed the original: %+v", o)
	}

	// A 2-cent edge survives Kalshi's fee on 100 contracts (0.0174). On
	// one contract the fee (0.02) would eat it, but one share is below
	// Polymarket's minimum anyway, and from 5 up ceil(0.017325 × n)/n
	// < 0.02 (it needs n ≤ 3): the skip is for the minimum, and counted.
	thin := d.CrossPlatform(fedPair(), CrossBooks{BYes: (&bk{ask: "0.45", size: "100"}).view(kYes),
		ANo: (&bk{ask: "0.53", size: "250"}).view(pmNo)})
	if thin == nil || thin.NetEdge != dec("0.0026") {
		t.Fatalf("want net 0.0026 at 100, got %+v", thin)
	}
	before := d.Skips().BelowMinSize
	if _, ok := d.Resize(thin, dec("1")); ok {
		t.Error("one set is below Polymarket's 5-share minimum")
	}
	if got := d.Skips().BelowMinSize - before; got != 1 {
		t.Errorf("below-minimum skips grew by %d, want 1", got)
	}
}

// The formulas are tested against the venues' examples in internal/fee;
// here, only what the detector uses by default.
func TestDefaultFeesAreKalshisGeneralScheduleAndPolymarketFeeFree(t *testing.T) {
	tests := []struct {
		name         string
		inst         polybot.Instrument
		price, count string
		want         string
	}{
		{"Kalshi rounds the order's fee up to the cent", kYes, "0.45", "100", "1.74"},
		{"Kalshi charges a whole cent on one contract", kYes, "0.45", "1", "0.02"},
		{"Kalshi's fee is symmetric in P and 1−P", kNo, "0.55", "100", "1.74"},
		{"Polymarket without a schedule is fee-free", pmYes, "0.45", "100", "0"},
	}
	for _, tc := range tests {
		if got := DefaultFees().TakerFee(tc.inst, dec(tc.price), dec(tc.count)); got != dec(tc.want) {
			t.Errorf("%s: fee = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestWants(t *testing.T) {
	all := polybot.Features{SinglePlatform: true, CrossPlatform: true, OverlappingArb: true, NewsArbitrage: true, CopyTrading: true}
	base := func() *polybot.Config {
		c := polybot.DefaultConfig(polybot.ID{}, t0)
		c.EnableCrossPlatformArb = true
		return c
	}
	d := detector(DefaultFees())
	cross := d.CrossPlatform(fedPair(), CrossBooks{BYes: (&bk{ask: "0.45", size: "100"}).view(kYes),
		ANo: (&bk{ask: "0.52", size: "250"}).view(pmNo)}) // 1.276078 %
	single := d.SinglePlatform((&bk{ask: "0.48", size: "500"}).view(pmYes), (&bk{ask: "0.50", size: "300"}).view(pmNo)) // 2.040816 %
	if cross == nil || single == nil || cross.ProfitPct != dec("1.276078") {
		t.Fatalf("fixtures: %+v %+v", cross, single)
	}
	tests := []struct {
		name     string
		edit     func(c *polybot.Config)
		features *polybot.Features
		o        *polybot.Opportunity
		want     bool
	}{
		{"a 1.276% opportunity passes the default 1% minimum", nil, nil, cross, true},
		{"a minimum above the profit rejects it", func(c *polybot.Config) { c.MinProfitPct = dec("1.3") }, nil, cross, false},
		{"a minimum equal to the profit accepts it", func(c *polybot.Config) { c.MinProfitPct = dec("1.276078") }, nil, cross, true},
		{"a minimum one micro above the profit rejects it", func(c *polybot.Config) { c.MinProfitPct = dec("1.276079") }, nil, cross, false},
		{"the strategy toggle off rejects it", func(c *polybot.Config) { c.EnableCrossPlatformArb = false }, nil, cross, false},
		{"a plan without the strategy rejects it", nil, &polybot.Features{SinglePlatform: true}, cross, false},
		{"a disabled venue of either leg rejects it", func(c *polybot.Config) { c.EnableKalshi = false }, nil, cross, false},
		{"a disabled Polymarket rejects it too", func(c *polybot.Config) { c.EnablePolymarket = false }, nil, cross, false},
		{"single-platform on Polymarket ignores a disabled Kalshi", func(c *polybot.Config) { c.EnableKalshi = false }, nil, single, true},
		{"single-platform needs its own toggle", func(c *polybot.Config) { c.EnableSinglePlatformArb = false }, nil, single, false},
		{"no opportunity is never wanted", nil, nil, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			if tc.edit != nil {
				tc.edit(c)
			}
			f := all
			if tc.features != nil {
				f = *tc.features
			}
			if got := Wants(c, f, tc.o); got != tc.want {
				t.Errorf("Wants = %v, want %v", got, tc.want)
			}
		})
	}
	if Wants(nil, all, cross) {
		t.Error("a nil config wants nothing")
	}
}

func TestSizingMeetsEveryLegsMinimumLotAndTick(t *testing.T) {
	// The NO token's market takes at least 15 shares; the YES token's
	// prices run to a tenth of a cent.
	facts := &fee.Facts{Tokens: map[string]fee.Rules{
		pmNoToken:  {MinSize: dec("15")},
		pmYesToken: {Tick: dec("0.001")},
	}}
	d := New(Config{Fees: noFees, Facts: facts, MaxQuoteAge: 5 * time.Second, Now: func() time.Time { return t0 }})
	cross := d.CrossPlatform(fedPair(), CrossBooks{BYes: (&bk{ask: "0.45", size: "100"}).view(kYes),
		ANo: (&bk{ask: "0.52", size: "250"}).view(pmNo)})
	single := d.SinglePlatform((&bk{ask: "0.475", size: "500"}).view(pmYes), (&bk{ask: "0.50", size: "300"}).view(pmNo))
	if cross == nil || single == nil {
		t.Fatalf("fixtures: %+v %+v", cross, single)
	}
	tests := []struct {
		name string
		o    *polybot.Opportunity
		sets string
		want string // "" : skipped for the minimum
	}{
		{"cross: 20 sets meet Polymarket's 15 and Kalshi's 1", cross, "20", "20"},
		{"cross: 15.7 is 15 whole Kalshi contracts, exactly the minimum", cross, "15.7", "15"},
		{"cross: 15.5 rounds down to 15 (Kalshi's lot) and still meets it", cross, "15.5", "15"},
		{"cross: 14.99 rounds down to 14, below the minimum", cross, "14.99", ""},
		{"single: 15.005 rounds to Polymarket's lot, 15", single, "15.005", "15"},
		{"single: 14.99 shares are below the minimum", single, "14.99", ""},
		{"single: a YES price on its own 0.001 tick is taken", single, "300", "300"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := d.Skips().BelowMinSize
			r, ok := d.Resize(tc.o, dec(tc.sets))
			if tc.want == "" {
				if ok || d.Skips().BelowMinSize != before+1 {
					t.Fatalf("ok %v, skips %+v: want a counted skip", ok, d.Skips())
				}
				return
			}
			if !ok || r.Size != dec(tc.want) {
				t.Fatalf("size %v, ok %v; want %s", r, ok, tc.want)
			}
		})
	}

	// Detection skips a book whose best level is below the minimum, and a
	// price off the default cent tick.
	before := d.Skips()
	if o := d.CrossPlatform(fedPair(), CrossBooks{BYes: (&bk{ask: "0.45", size: "100"}).view(kYes),
		ANo: (&bk{ask: "0.52", size: "12"}).view(pmNo)}); o != nil {
		t.Errorf("12 shares against a 15-share minimum: %+v", o)
	}
	if o := d.SinglePlatform((&bk{ask: "0.48", size: "500"}).view(pmYes), (&bk{ask: "0.505", size: "300"}).view(pmNo)); o != nil {
		t.Errorf("0.505 is off the NO token's cent tick: %+v", o)
	}
	if got := d.Skips(); got.BelowMinSize != before.BelowMinSize+1 || got.OffTick != before.OffTick+1 {
		t.Errorf("skips %+v after %+v: want one of each more", got, before)
	}
}
