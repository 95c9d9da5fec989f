package kalshi

import (
	"slices"
	"time"

	"github.com/polybot/polybot"
)

// Instruments returns the YES and NO instruments of a market.
func Instruments(ticker string) (yes, no polybot.Instrument) {
	return polybot.Instrument{Venue: polybot.Kalshi, Market: ticker, Outcome: polybot.Yes},
		polybot.Instrument{Venue: polybot.Kalshi, Market: ticker, Outcome: polybot.No}
}

// ladders is a market's bids-only book: resting size by price (in micros) on
// the YES side and on the NO side.
type ladders struct {
	yes, no map[int64]polybot.Decimal
}

func newLadders() ladders {
	return ladders{yes: map[int64]polybot.Decimal{}, no: map[int64]polybot.Decimal{}}
}

func (l *ladders) reset(yes, no [][2]polybot.Decimal) {
	clear(l.yes)
	clear(l.no)
	for _, lv := range yes {
		if lv[1].Sign() > 0 {
			l.yes[lv[0].Micros()] = l.yes[lv[0].Micros()].Add(lv[1])
		}
	}
	for _, lv := range no {
		if lv[1].Sign() > 0 {
			l.no[lv[0].Micros()] = l.no[lv[0].Micros()].Add(lv[1])
		}
	}
}

// apply adds delta at price on side ('y' or 'n') and returns the new size.
// ok is false when the level would go negative: our book has diverged from
// the venue's and must be resynchronised.
func (l *ladders) apply(side byte, price, delta polybot.Decimal) (size polybot.Decimal, ok bool) {
	m := l.yes
	if side == 'n' {
		m = l.no
	}
	k := price.Micros()
	size = m[k].Add(delta)
	switch size.Sign() {
	case -1:
		return size, false
	case 0:
		delete(m, k)
	default:
		m[k] = size
	}
	return size, true
}

// sortedLevels returns the ladder as levels, best (highest) bid first.
func sortedLevels(m map[int64]polybot.Decimal) []polybot.Level {
	out := make([]polybot.Level, 0, len(m))
	for p, s := range m {
		out = append(out, polybot.Level{Price: polybot.DecimalFromMicros(p), Size: s})
	}
	slices.SortFunc(out, func(a, b polybot.Level) int { return b.Price.Cmp(a.Price) })
	return out
}

// complement turns bids of one side into asks of the other: a bid at X for
// NO is an ask at 1−X for YES. Bids come best (highest) first, so the asks
// come best (lowest) first.
func complement(bids []polybot.Level) []polybot.Level {
	out := make([]polybot.Level, len(bids))
	for i, l := range bids {
		out[i] = polybot.Level{Price: polybot.One.Sub(l.Price), Size: l.Size}
	}
	return out
}

// snapshotEvents builds the full books of both instruments from the ladders.
func (l *ladders) snapshotEvents(ticker string, seq int64, t, recv time.Time) (yes, no polybot.BookEvent) {
	yi, ni := Instruments(ticker)
	yb, nb := sortedLevels(l.yes), sortedLevels(l.no)
	yes = polybot.BookEvent{Kind: polybot.BookSnapshot, Instrument: yi, Bids: yb, Asks: complement(nb), Seq: seq, Time: t, Received: recv}
	no = polybot.BookEvent{Kind: polybot.BookSnapshot, Instrument: ni, Bids: nb, Asks: complement(yb), Seq: seq, Time: t, Received: recv}
	return yes, no
}

// BookEvents converts a REST order book into snapshots of the YES and the NO
// instrument, exactly.
func BookEvents(ticker string, ob *OrderbookFP, t time.Time) (yes, no polybot.BookEvent) {
	l := newLadders()
	l.reset(ob.YesDollars, ob.NoDollars)
	return l.snapshotEvents(ticker, 0, t, t)
}
