package backtest

import (
	"slices"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata"
	"github.com/polybot/polybot/internal/strategy"
)

// News arbitrage in a replay. Headlines (Options.Headlines) are delivered
// when the recording's clock reaches their publication time; each rule
// (Options.NewsRules) they match watches its window for its trade
// (strategy.NewsDirect, or strategy.NewsLag from the bids at the headline),
// bought as a taker at the recorded ask, once per headline. The position
// is sold at the recorded bid on the rule's exit: the lag target
// (convergence), take profit, stop loss or time stop; one still open when
// the recording ends is sold at its last bid ("end of recording"). A news
// trade's P&L is realised: size × (exit − entry) − both orders' fees.

// NewsTrade is one simulated news trade, from its headline to its exit.
type NewsTrade struct {
	Rule       string             `json:"rule"`
	Headline   string             `json:"headline"`
	Published  time.Time          `json:"published"`
	Instrument polybot.Instrument `json:"instrument"`
	Size       polybot.Decimal    `json:"size"`
	Entry      polybot.Decimal    `json:"entry"`
	EntryAt    time.Time          `json:"entry_at"`
	Exit       polybot.Decimal    `json:"exit"`
	ExitAt     time.Time          `json:"exit_at"`
	Why        string             `json:"why"`
	Fees       polybot.Decimal    `json:"fees"`
	NetPnL     polybot.Decimal    `json:"net_pnl"`
}

type newsWatch struct {
	rule  *polybot.NewsRule
	h     polybot.Headline
	until time.Time
	base  map[string]strategy.LagBase
}

type newsPos struct {
	tr             NewsTrade
	target, tp, sl polybot.Decimal
	until          time.Time
	buyFee         polybot.Decimal
}

// newsRun is a replay's news state.
type newsRun struct {
	det       *strategy.Detector
	fees      polybot.FeeModel
	headlines []polybot.Headline
	next      int
	rules     []*polybot.NewsRule
	pairs     map[string]*polybot.MarketPair
	watches   []*newsWatch
	open      []*newsPos
	tally     *Tally
	trades    []NewsTrade
}

func newNewsRun(det *strategy.Detector, fees polybot.FeeModel, u Universe, opt Options, t *Tally) *newsRun {
	n := &newsRun{det: det, fees: fees, rules: opt.NewsRules, pairs: map[string]*polybot.MarketPair{}, tally: t}
	n.headlines = slices.Clone(opt.Headlines)
	slices.SortStableFunc(n.headlines, func(a, b polybot.Headline) int { return a.Published.Compare(b.Published) })
	for i := range u.Pairs {
		n.pairs[u.Pairs[i].ID] = &u.Pairs[i]
	}
	return n
}

func (n *newsRun) crossBooks(p *polybot.MarketPair, view func(string) *marketdata.View) strategy.CrossBooks {
	a, b := p.Markets()
	return strategy.CrossBooks{AYes: view(a.Yes.Key()), ANo: view(a.No.Key()), BYes: view(b.Yes.Key()), BNo: view(b.No.Key())}
}

// deliver hands the rules every headline published before the next book
// update (at next), and looks for their trades on the books as they are:
// the recording's last rows before the headline are what the market
// showed when it came out (its quotes count as of that update, whatever
// the recording's spacing). A trade found here is entered at the
// headline's time.
func (n *newsRun) deliver(last, next time.Time, view func(string) *marketdata.View) {
	for ; n.next < len(n.headlines) && n.headlines[n.next].Published.Before(next); n.next++ {
		h := n.headlines[n.next]
		n.open1(h, last, view)
		n.look(h.Published, view)
	}
}

// step runs one book update at clock: deliver headlines published at
// clock, look for the watches' trades, exit due positions.
func (n *newsRun) step(clock time.Time, view func(string) *marketdata.View) {
	for ; n.next < len(n.headlines) && !n.headlines[n.next].Published.After(clock); n.next++ {
		n.open1(n.headlines[n.next], clock, view)
	}
	n.look(clock, view)
	n.exits(clock, view)
}

// open1 opens a watch for every rule h matches, its lag base the books now.
func (n *newsRun) open1(h polybot.Headline, clock time.Time, view func(string) *marketdata.View) {
	for _, r := range n.rules {
		if !r.Enabled || !r.Matches(&h) {
			continue
		}
		w := &newsWatch{rule: r, h: h, until: h.Published.Add(r.Window), base: map[string]strategy.LagBase{}}
		for _, id := range r.Pairs {
			if p := n.pairs[id]; p != nil {
				w.base[id] = strategy.LagBaseOf(n.crossBooks(p, view), r.Outcome, clock)
			}
		}
		n.watches = append(n.watches, w)
	}
}

// look finds the open watches' trades on the books now, at time at.
func (n *newsRun) look(clock time.Time, view func(string) *marketdata.View) {
	keep := n.watches[:0]
	for _, w := range n.watches {
		if clock.After(w.until) {
			continue
		}
		o := n.find(w, view)
		if o == nil {
			keep = append(keep, w)
			continue
		}
		n.tally.Opportunities++
		l := o.Legs[0]
		buyFee := n.fees.TakerFee(l.Instrument, l.Price, o.Size)
		n.open = append(n.open, &newsPos{tr: NewsTrade{Rule: w.rule.ID, Headline: w.h.Title, Published: w.h.Published,
			Instrument: l.Instrument, Size: o.Size, Entry: l.Price, EntryAt: clock},
			target: o.Target, tp: w.rule.TakeProfit, sl: w.rule.StopLoss, until: clock.Add(w.rule.TimeStop), buyFee: buyFee})
	}
	clear(n.watches[len(keep):])
	n.watches = keep
}

// exits sells the positions whose exit is due at clock.
func (n *newsRun) exits(clock time.Time, view func(string) *marketdata.View) {
	left := n.open[:0]
	for _, p := range n.open {
		bid := polybot.Zero
		if v := view(p.tr.Instrument.Key()); v != nil {
			if b, ok := v.BestBid(); ok {
				bid = b.Price
			}
		}
		why := ""
		switch {
		case bid.Sign() > 0 && p.target.Sign() > 0 && !bid.LessThan(p.target):
			why = "converged"
		case bid.Sign() > 0 && p.tp.Sign() > 0 && !bid.LessThan(p.tr.Entry.Add(p.tp)):
			why = "take profit"
		case bid.Sign() > 0 && p.sl.Sign() > 0 && !bid.GreaterThan(p.tr.Entry.Sub(p.sl)):
			why = "stop loss"
		case !clock.Before(p.until) && bid.Sign() > 0:
			why = "time stop"
		}
		if why == "" {
			left = append(left, p)
			continue
		}
		n.close(p, bid, clock, why)
	}
	clear(n.open[len(left):])
	n.open = left
}

// finish sells what is still open at its last bid.
func (n *newsRun) finish(clock time.Time, view func(string) *marketdata.View) {
	for _, p := range n.open {
		bid := polybot.Zero
		if v := view(p.tr.Instrument.Key()); v != nil {
			if b, ok := v.BestBid(); ok {
				bid = b.Price
			}
		}
		n.close(p, bid, clock, "end of recording")
	}
	n.open = nil
}

func (n *newsRun) close(p *newsPos, bid polybot.Decimal, at time.Time, why string) {
	sellFee := n.fees.TakerFee(p.tr.Instrument, bid, p.tr.Size)
	p.tr.Exit, p.tr.ExitAt, p.tr.Why = bid, at, why
	p.tr.Fees = p.buyFee.Add(sellFee)
	gross := bid.Sub(p.tr.Entry).Mul(p.tr.Size)
	p.tr.NetPnL = gross.Sub(p.tr.Fees)
	t := n.tally
	t.Trades++
	t.Sets = t.Sets.Add(p.tr.Size)
	t.Cost = t.Cost.Add(p.tr.Entry.Mul(p.tr.Size))
	t.Fees = t.Fees.Add(p.tr.Fees)
	switch p.tr.Instrument.Venue {
	case polybot.Polymarket:
		t.FeesPolymarket = t.FeesPolymarket.Add(p.tr.Fees)
	case polybot.Kalshi:
		t.FeesKalshi = t.FeesKalshi.Add(p.tr.Fees)
	}
	t.GrossPnL = t.GrossPnL.Add(gross)
	t.NetPnL = t.NetPnL.Add(p.tr.NetPnL)
	n.trades = append(n.trades, p.tr)
}

func (n *newsRun) find(w *newsWatch, view func(string) *marketdata.View) *polybot.Opportunity {
	r := w.rule
	switch r.Mode {
	case polybot.NewsLag:
		for _, id := range r.Pairs {
			if p := n.pairs[id]; p != nil {
				if o := n.det.NewsLag(r, p, w.base[id], n.crossBooks(p, view)); o != nil {
					return o
				}
			}
		}
	case polybot.NewsDirect:
		var insts []polybot.Instrument
		for _, bm := range r.Markets {
			insts = append(insts, bm.Yes, bm.No)
		}
		for _, id := range r.Pairs {
			if p := n.pairs[id]; p != nil {
				b := n.crossBooks(p, view)
				for _, v := range []*marketdata.View{b.AYes, b.ANo, b.BYes, b.BNo} {
					if v != nil {
						insts = append(insts, v.Instrument)
					}
				}
			}
		}
		for _, inst := range insts {
			if inst.Outcome != r.Outcome {
				continue
			}
			if v := view(inst.Key()); v != nil {
				if o := n.det.NewsDirect(r, v); o != nil {
					return o
				}
			}
		}
	}
	return nil
}
