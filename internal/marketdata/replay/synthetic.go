package replay

import (
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/polybot/polybot"
)

// SyntheticConfig shapes a synthetic load. The zero value is one Polymarket
// market at 100 updates a second.
type SyntheticConfig struct {
	Venue            polybot.Platform // default Polymarket
	Markets          int              // N, default 1
	UpdatesPerSecond int              // M, across all markets, default 100
	Levels           int              // levels a side, default 10
	Seed             uint64
	Start            time.Time       // time of the first event; default 2025-01-01 UTC
	Tick             polybot.Decimal // default 0.01
	// Count stops the source after this many events (0: never).
	Count int
}

// Synthetic is a deterministic load generator, a Source: for the same
// config it yields the same events. It first yields one snapshot per market
// (Seq 1), then single-level deltas on random markets, each with the next
// Seq of its instrument. Event n (from 0) is timed Start + n/M seconds, so
// Play and Feed pace it at M updates a second (times Speed). Every market
// has a fixed mid: bids sit below it and asks above, so books never cross;
// a delta sets a size, or removes a level (one in eight).
type Synthetic struct {
	cfg   SyntheticConfig
	rng   *rand.Rand
	insts []polybot.Instrument
	mids  []int64 // in ticks
	seqs  []int64
	n     int
}

// NewSynthetic returns a generator for cfg.
func NewSynthetic(cfg SyntheticConfig) *Synthetic {
	if cfg.Venue == "" {
		cfg.Venue = polybot.Polymarket
	}
	if cfg.Markets <= 0 {
		cfg.Markets = 1
	}
	if cfg.UpdatesPerSecond <= 0 {
		cfg.UpdatesPerSecond = 100
	}
	if cfg.Levels <= 0 {
		cfg.Levels = 10
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if cfg.Tick.Sign() <= 0 {
		cfg.Tick = polybot.NewDecimal(1, 2)
	}
	ticks := polybot.One.Micros() / cfg.Tick.Micros()
	if int64(cfg.Levels) > (ticks-2)/2 {
		cfg.Levels = int((ticks - 2) / 2)
	}
	g := &Synthetic{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))}
	lo, hi := int64(cfg.Levels)+1, ticks-int64(cfg.Levels)-1
	for i := range cfg.Markets {
		id := strconv.Itoa(i)
		inst := polybot.Instrument{Venue: cfg.Venue, Market: "SYNTH-" + id, Outcome: polybot.Yes}
		if cfg.Venue == polybot.Polymarket {
			inst = polybot.Instrument{Venue: cfg.Venue, Market: "synthetic-market-" + id, Token: "synthetic-" + id}
		}
		g.insts = append(g.insts, inst)
		g.mids = append(g.mids, lo+g.rng.Int64N(hi-lo+1))
		g.seqs = append(g.seqs, 0)
	}
	return g
}

// Instruments lists the markets' instruments.
func (g *Synthetic) Instruments() []polybot.Instrument {
	return append([]polybot.Instrument(nil), g.insts...)
}

func (g *Synthetic) price(ticks int64) polybot.Decimal { return g.cfg.Tick.MulInt(ticks) }

func (g *Synthetic) size() polybot.Decimal { return polybot.NewDecimal(1+g.rng.Int64N(500_000), 2) }

// Next yields the next event.
func (g *Synthetic) Next() (polybot.BookEvent, bool) {
	if g.cfg.Count > 0 && g.n >= g.cfg.Count {
		return polybot.BookEvent{}, false
	}
	t := g.cfg.Start.Add(time.Duration(int64(g.n) * int64(time.Second) / int64(g.cfg.UpdatesPerSecond)))
	g.n++
	if g.n <= len(g.insts) {
		i := g.n - 1
		g.seqs[i] = 1
		ev := polybot.BookEvent{Kind: polybot.BookSnapshot, Instrument: g.insts[i], TickSize: g.cfg.Tick, Seq: 1, Time: t}
		for k := int64(1); k <= int64(g.cfg.Levels); k++ {
			ev.Bids = append(ev.Bids, polybot.Level{Price: g.price(g.mids[i] - k), Size: g.size()})
			ev.Asks = append(ev.Asks, polybot.Level{Price: g.price(g.mids[i] + k), Size: g.size()})
		}
		return ev, true
	}
	i := g.rng.IntN(len(g.insts))
	k := 1 + g.rng.Int64N(int64(g.cfg.Levels))
	sz := g.size()
	if g.rng.IntN(8) == 0 {
		sz = polybot.Zero
	}
	g.seqs[i]++
	ev := polybot.BookEvent{Kind: polybot.BookDelta, Instrument: g.insts[i], Seq: g.seqs[i], Time: t}
	if g.rng.IntN(2) == 0 {
		ev.Bids = []polybot.Level{{Price: g.price(g.mids[i] - k), Size: sz}}
	} else {
		ev.Asks = []polybot.Level{{Price: g.price(g.mids[i] + k), Size: sz}}
	}
	return ev, true
}
