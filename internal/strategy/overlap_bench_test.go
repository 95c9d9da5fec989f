package strategy

import (
	"strconv"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata"
)

// twentyOutcomes is a 20-outcome Kalshi event whose YES asks sum to sum
// (the first outcome takes the remainder of 19 × 0.05) and whose NO asks
// are 1 − (YES ask − 0.01), so the NO side never pays.
func twentyOutcomes(sum string) (*polybot.OutcomeSet, Books) {
	set := &polybot.OutcomeSet{ID: "bench-20", Name: "20 outcomes", Venue: polybot.Kalshi, Exhaustive: true, Approved: true}
	b := books{}
	first := dec(sum).Sub(dec("0.05").MulInt(19))
	for i := range 20 {
		m := kalshiMarket("KXBENCH-26-O" + strconv.Itoa(i))
		set.Outcomes = append(set.Outcomes, polybot.SetOutcome{Label: "O" + strconv.Itoa(i), Markets: []polybot.BinaryMarket{m}})
		ask := dec("0.05")
		if i == 0 {
			ask = first
		}
		b.add(m.Yes, &bk{ask: ask.String(), size: "100", bid: ask.Sub(dec("0.01")).String()})
		b.add(m.No, &bk{ask: polybot.One.Sub(ask).Add(dec("0.01")).String(), size: "100", bid: polybot.One.Sub(ask).String()})
	}
	// Keyed by the instrument itself: Instrument.Key builds a string per
	// look-up, which would dominate the measurement.
	byInst := make(map[polybot.Instrument]*marketdata.View, len(b))
	for _, v := range b {
		byInst[v.Instrument] = v
	}
	return set, func(inst polybot.Instrument) *marketdata.View { return byInst[inst] }
}

// Each iteration is one book update of the event: both rebalancing
// directions over all 20 outcomes. Compare with BenchmarkCrossPlatformNoEdge
// (one matched pair, four books).
func BenchmarkRebalance20OutcomesNoEdge(b *testing.B) {
	d := detector(DefaultFees())
	set, get := twentyOutcomes("1.02")
	b.ReportAllocs()
	for b.Loop() {
		if d.RebalanceLong(set, get, nil) != nil || d.RebalanceShort(set, get, nil) != nil {
			b.Fatal("unexpected opportunity")
		}
	}
}

func BenchmarkRebalance20OutcomesOpportunity(b *testing.B) {
	d := detector(noFees)
	set, get := twentyOutcomes("0.97")
	b.ReportAllocs()
	for b.Loop() {
		if d.RebalanceLong(set, get, nil) == nil {
			b.Fatal("no opportunity")
		}
		d.RebalanceShort(set, get, nil)
	}
}

func BenchmarkImplicationNoEdge(b *testing.B) {
	d := detector(DefaultFees())
	bs := books{}.add(above3625.Yes, &bk{ask: "0.72", size: "100", bid: "0.70"}).add(above3875.No, &bk{ask: "0.30", size: "100", bid: "0.28"})
	rel := ladder()
	var get Books = bs.get
	b.ReportAllocs()
	for b.Loop() {
		if d.Implication(rel, get) != nil {
			b.Fatal("unexpected opportunity")
		}
	}
}

// BenchmarkOverlap20VersusCrossPlatform measures, in one run, a book
// update of a 20-outcome event (both rebalancing directions over every
// outcome) against a book update of one matched pair (cross-platform,
// four books), neither with an edge: the common case. The two are
// interleaved in batches, so both see the same machine; it reports each
// one's ns per update and their ratio.
func BenchmarkOverlap20VersusCrossPlatform(b *testing.B) {
	d := detector(DefaultFees())
	set, get := twentyOutcomes("1.02")
	cross := CrossBooks{
		BYes: (&bk{ask: "0.52", size: "100", bid: "0.50"}).view(kYes), BNo: (&bk{ask: "0.50", size: "100", bid: "0.48"}).view(kNo),
		AYes: (&bk{ask: "0.51", size: "100", bid: "0.50"}).view(pmYes), ANo: (&bk{ask: "0.50", size: "100", bid: "0.49"}).view(pmNo),
	}
	pair := fedPair()
	const batch = 256
	var setNs, pairNs time.Duration
	updates := 0
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		for range batch {
			if d.RebalanceLong(set, get, nil) != nil || d.RebalanceShort(set, get, nil) != nil {
				b.Fatal("unexpected opportunity")
			}
		}
		t1 := time.Now()
		for range batch {
			if d.CrossPlatform(pair, cross) != nil {
				b.Fatal("unexpected opportunity")
			}
		}
		t2 := time.Now()
		setNs += t1.Sub(t0)
		pairNs += t2.Sub(t1)
		updates += batch
	}
	per20 := float64(setNs.Nanoseconds()) / float64(updates)
	perPair := float64(pairNs.Nanoseconds()) / float64(updates)
	b.ReportMetric(per20, "ns/update-20-outcomes")
	b.ReportMetric(perPair, "ns/update-pair")
	b.ReportMetric(per20/perPair, "ratio")
}
