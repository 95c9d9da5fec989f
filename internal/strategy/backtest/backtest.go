// Package backtest replays recorded market data through the strategies as
// fast as the machine allows, simulates taker fills at the recorded top of
// book with fees, and reports opportunities, trades, fees and P&L net of
// fees. It is what `polybot replay` runs.
//
// # How a replay runs
//
// Events are applied, in order, to one marketdata.Book per instrument.
// Events that share a timestamp form one book update (a row of the
// cross-venue recording changes all four books at once), after which every
// enabled strategy looks once at every market of the Universe, on the
// recording's clock: a quote is as old as the recording says it is.
//
// # Opportunities and trades
//
//   - An opportunity is counted once: a market whose books did not change
//     yields the same opportunity ID again and is not counted again.
//   - Each new opportunity is traded once, as a taker, at the recorded best
//     asks. The size is the opportunity's (the thinner leg, whole sets),
//     capped by Options.MaxTradeUSD when set. The trade is re-priced at that
//     size (strategy.Detector.Resize), and it is taken only if its net edge
//     stays positive and its profit is at least Options.MinProfitPct
//     (strategy.Wants).
//   - Fees are what the venues would charge: one taker order per leg for the
//     whole size (strategy.OrderFees over internal/fee's models; Kalshi
//     rounds each order up to the cent, Polymarket down to 0.00001), reported
//     in all and per venue.
//   - An opportunity too small for a leg's minimum order (Polymarket's
//     orderMinSize, Kalshi's one contract) is not reported; Report.Skips
//     counts those.
//   - The recording cannot show our own fills, so a later row is taken as
//     it was recorded, even if our earlier trade would have consumed its
//     liquidity. Rows of the Fed recording are about 30 minutes apart.
//
// # P&L convention
//
// Every set (one YES and one NO of the same event; YES on every outcome of
// an exhaustive event; YES on B and NO on A of an implication A ⇒ B) pays
// at least $1 at resolution, whichever way the event resolves — NO on
// every outcome of an n-outcome event pays n − 1 — so a trade's P&L is
// locked in when it fills: P&L = sets × payout − Σ price × sets − fees,
// that is sets × gross edge − fees (an implication is counted at $1, the
// least it pays). It ignores the time value of the money tied up until
// resolution, and, across venues, the risk that the two venues resolve the
// same event differently (which the admin's approval of a pair is for).
package backtest

import (
	"context"
	"io"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/fee"
	"github.com/polybot/polybot/internal/marketdata"
	"github.com/polybot/polybot/internal/marketdata/replay"
	"github.com/polybot/polybot/internal/strategy"
)

// Market is one binary market for single-platform arbitrage: its YES and NO
// instruments on one venue.
type Market struct {
	Yes, No polybot.Instrument
}

// Universe is what the strategies look at: matched pairs for
// cross-platform arbitrage, single-venue markets for single-platform, and
// outcome sets and relations for overlapping arbitrage (which trades only
// the approved, exhaustive sets and the approved implications, as the bot
// does; a set's outcomes reach the other venue through approved Pairs).
type Universe struct {
	Pairs     []polybot.MarketPair
	Markets   []Market
	Sets      []*polybot.OutcomeSet
	Relations []*polybot.Relation
}

// EventUniverse is the universe of a multi-outcome recording: its outcome
// set (for overlapping arbitrage, approved since a recording is replayed
// to study it, exhaustive only if the recording says so), every
// outcome's market (for single-platform arbitrage) and the relations
// given (implications between its markets, approved by the caller).
func EventUniverse(r *replay.EventRecording, rels ...*polybot.Relation) Universe {
	set := r.Set
	set.Approved = true
	u := Universe{Sets: []*polybot.OutcomeSet{&set}, Relations: rels}
	for _, o := range set.Outcomes {
		if len(o.Markets) > 0 {
			u.Markets = append(u.Markets, Market{Yes: o.Markets[0].Yes, No: o.Markets[0].No})
		}
	}
	return u
}

// CrossVenueUniverse is the universe of a cross-venue recording: the pair
// (approved, since a recording is replayed to study it) and the market on
// each venue.
func CrossVenueUniverse(m replay.CrossVenueMarket) Universe {
	in := m.Instruments()
	return Universe{
		Pairs: []polybot.MarketPair{{
			ID: m.KalshiTicker, Name: "recorded pair " + m.KalshiTicker,
			Legs:     [2]polybot.PairLeg{polybot.PolymarketLeg("", m.PolymarketYesToken, m.PolymarketNoToken), polybot.KalshiLeg(m.KalshiTicker)},
			Approved: true,
		}},
		Markets: []Market{{Yes: in[0], No: in[1]}, {Yes: in[2], No: in[3]}},
	}
}

// Options tune a replay. The zero value replays every strategy at the
// default fees and trades every opportunity at its full size.
type Options struct {
	// Fees prices the venues' taker fees. Nil: strategy.DefaultFees().
	Fees polybot.FeeModel
	// Facts are the venues' lot, tick and minimum order size. Nil: the
	// venues' defaults (see fee.Facts).
	Facts *fee.Facts
	// MaxQuoteAge: see strategy.Config. ≤ 0: strategy.DefaultMaxQuoteAge.
	MaxQuoteAge time.Duration
	// MinProfitPct is the least profit, in percent of the cost, that a
	// trade must make (a tenant's min_profit_pct). Opportunities below it
	// are counted but not traded.
	MinProfitPct polybot.Decimal
	// MaxTradeUSD caps what one trade may cost, fees included (a tenant's
	// max_trade_size_usd). Zero: no cap, the whole visible size.
	MaxTradeUSD polybot.Decimal
	// Strategies lists the strategies to run. Nil: single- and
	// cross-platform arbitrage.
	Strategies []string
	// Headlines are replayed at their publication times to the NewsRules
	// (news arbitrage; see news.go). Rules run as given (Enabled must be
	// set).
	Headlines []polybot.Headline
	NewsRules []*polybot.NewsRule
	// Progress, if set, is called after each book update with how many
	// updates are done and how many there are.
	Progress func(done, total int)
}

// Tally sums a replay's results, overall or for one strategy. Money is in
// dollars.
type Tally struct {
	Opportunities  int             `json:"opportunities"`
	Trades         int             `json:"trades"`
	Sets           polybot.Decimal `json:"sets"`            // sets bought
	Cost           polybot.Decimal `json:"cost"`            // Σ price × size, fees excluded
	Fees           polybot.Decimal `json:"fees"`            // Σ fees of every order
	FeesPolymarket polybot.Decimal `json:"fees_polymarket"` // the part of Fees paid on Polymarket
	FeesKalshi     polybot.Decimal `json:"fees_kalshi"`     // the part paid on Kalshi
	GrossPnL       polybot.Decimal `json:"gross_pnl"`       // Sets × payout − Cost
	NetPnL         polybot.Decimal `json:"net_pnl"`         // GrossPnL − Fees
	Untraded       int             `json:"untraded"`        // opportunities not traded (min profit, or the edge gone at the capped size)
}

func (t *Tally) add(tr *Trade) {
	t.Trades++
	t.Sets = t.Sets.Add(tr.Sets)
	t.Cost = t.Cost.Add(tr.Cost)
	t.Fees = t.Fees.Add(tr.Fees)
	t.FeesPolymarket = t.FeesPolymarket.Add(tr.FeesPolymarket)
	t.FeesKalshi = t.FeesKalshi.Add(tr.FeesKalshi)
	t.GrossPnL = t.GrossPnL.Add(tr.Sets.Mul(tr.Payout).Sub(tr.Cost))
	t.NetPnL = t.NetPnL.Add(tr.NetPnL)
}

// Trade is one simulated taker trade: Sets sets of the opportunity's legs.
type Trade struct {
	Opportunity    polybot.Opportunity `json:"opportunity"` // re-priced at Sets
	Sets           polybot.Decimal     `json:"sets"`
	Payout         polybot.Decimal     `json:"payout"` // what a set pays at resolution (n − 1 for a short rebalancing set, else $1)
	Cost           polybot.Decimal     `json:"cost"`   // Σ price × Sets
	Fees           polybot.Decimal     `json:"fees"`   // the orders' fees
	FeesPolymarket polybot.Decimal     `json:"fees_polymarket"`
	FeesKalshi     polybot.Decimal     `json:"fees_kalshi"`
	NetPnL         polybot.Decimal     `json:"net_pnl"` // Sets × Payout − Cost − Fees
}

// Report is what a replay found.
type Report struct {
	Tally
	// ByStrategy has one tally per strategy run, opportunities or not.
	ByStrategy map[string]*Tally `json:"by_strategy"`
	// NewsTrades lists news arbitrage's trades, from headline to exit.
	NewsTrades []NewsTrade `json:"news_trades,omitempty"`
	// ByKind splits overlapping arbitrage by kind (Kind): rebalancing
	// long and short, implication, cross-venue set; present when it runs.
	ByKind map[string]*Tally `json:"by_kind,omitempty"`
	// TradeLog lists every simulated trade in order.
	TradeLog []Trade `json:"trade_log"`
	// Events and Updates count the events applied and the book updates
	// (distinct timestamps) evaluated.
	Events  int `json:"events"`
	Updates int `json:"updates"`
	// Skipped are input rows the reader could not use.
	Skipped []replay.SkippedRow `json:"skipped,omitempty"`
	// Skips counts what the detector passed over with a positive gross
	// edge: below a leg's minimum order size, or off its tick.
	Skips strategy.Skips `json:"skips"`
	// From and To are the recording's first and last update times.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// RunCrossVenue reads a cross-venue recording (replay.ReadCrossVenue) of
// market m and replays it over CrossVenueUniverse(m).
func RunCrossVenue(ctx context.Context, r io.Reader, m replay.CrossVenueMarket, opt Options) (*Report, error) {
	evs, skipped, err := replay.ReadCrossVenue(r, m)
	if err != nil {
		return nil, err
	}
	rep, err := Run(ctx, evs, CrossVenueUniverse(m), opt)
	if rep != nil {
		rep.Skipped = skipped
	}
	return rep, err
}

type book struct {
	b       *marketdata.Book
	version uint64
	view    marketdata.View
}

// Run replays events (in time order) over u. On ctx's end it returns the
// report so far with ctx's error.
func Run(ctx context.Context, events []polybot.BookEvent, u Universe, opt Options) (*Report, error) {
	strategies := opt.Strategies
	if strategies == nil {
		strategies = []string{polybot.StrategySinglePlatform, polybot.StrategyCrossPlatform}
	}
	var clock time.Time
	det := strategy.New(strategy.Config{Fees: opt.Fees, Facts: opt.Facts, MaxQuoteAge: opt.MaxQuoteAge, Now: func() time.Time { return clock }})

	// A tenant that wants everything, at opt's minimum profit.
	tenant := &polybot.Config{MinProfitPct: opt.MinProfitPct, EnablePolymarket: true, EnableKalshi: true}
	rep := &Report{ByStrategy: map[string]*Tally{}}
	runSingle, runCross, runOverlap, runNews := false, false, false, false
	for _, s := range strategies {
		switch s {
		case polybot.StrategySinglePlatform:
			runSingle, tenant.EnableSinglePlatformArb = true, true
		case polybot.StrategyCrossPlatform:
			runCross, tenant.EnableCrossPlatformArb = true, true
		case polybot.StrategyNews:
			runNews, tenant.EnableNewsArbitrage = true, true
		case polybot.StrategyOverlapping:
			runOverlap, tenant.EnableOverlappingArb = true, true
			rep.ByKind = map[string]*Tally{}
			for _, k := range Kinds {
				rep.ByKind[k] = &Tally{}
			}
		default:
			return nil, polybot.FieldError("strategies", "replay runs "+polybot.StrategySinglePlatform+", "+polybot.StrategyCrossPlatform+", "+
				polybot.StrategyOverlapping+" and "+polybot.StrategyNews+", not "+s)
		}
		rep.ByStrategy[s] = &Tally{}
	}
	features := polybot.Features{SinglePlatform: true, CrossPlatform: true, OverlappingArb: true, NewsArbitrage: true}
	pairByID := map[string]*polybot.MarketPair{}
	for i := range u.Pairs {
		pairByID[u.Pairs[i].ID] = &u.Pairs[i]
	}
	pairOf := func(id string) *polybot.MarketPair { return pairByID[id] }
	var sets []*polybot.OutcomeSet
	var rels []*polybot.Relation
	if runOverlap {
		for _, s := range u.Sets {
			if s.Tradable() {
				sets = append(sets, s.WithPairs(u.Pairs))
			}
		}
		for _, r := range u.Relations {
			if r != nil && r.Approved && r.Kind == polybot.RelationImplies {
				rels = append(rels, r)
			}
		}
	}

	books := map[string]*book{}
	view := func(key string) *marketdata.View {
		if bk := books[key]; bk != nil {
			return &bk.view
		}
		return nil
	}
	// The books each market reads, keyed as Instrument.Key, once.
	type pairKeys struct{ slot, aYes, aNo, bYes, bNo string }
	pairs := make([]pairKeys, len(u.Pairs))
	for i, p := range u.Pairs {
		a, b := p.Markets()
		pairs[i] = pairKeys{slot: "x|" + p.ID, aYes: a.Yes.Key(), aNo: a.No.Key(), bYes: b.Yes.Key(), bNo: b.No.Key()}
	}
	type marketKeys struct{ slot, yes, no string }
	markets := make([]marketKeys, len(u.Markets))
	for i, m := range u.Markets {
		markets[i] = marketKeys{slot: "s|" + m.Yes.Key() + "|" + m.No.Key(), yes: m.Yes.Key(), no: m.No.Key()}
	}
	last := map[string]string{} // slot (strategy and market) → last opportunity id
	consider := func(slot string, o *polybot.Opportunity) {
		if o == nil || last[slot] == o.ID {
			return
		}
		last[slot] = o.ID
		ts := []*Tally{&rep.Tally, rep.ByStrategy[o.Strategy]}
		if k := Kind(o); k != "" {
			ts = append(ts, rep.ByKind[k])
		}
		for _, t := range ts {
			t.Opportunities++
		}
		tr, ok := simulate(det, opt, tenant, features, o)
		if !ok {
			for _, t := range ts {
				t.Untraded++
			}
			return
		}
		for _, t := range ts {
			t.add(tr)
		}
		rep.TradeLog = append(rep.TradeLog, *tr)
	}

	var news *newsRun
	if runNews {
		news = newNewsRun(det, det.Fees(), u, opt, rep.ByStrategy[polybot.StrategyNews])
	}
	total := 0
	for i := range events {
		if i == 0 || !events[i].Time.Equal(events[i-1].Time) {
			total++
		}
	}
	for i := 0; i < len(events); {
		if rep.Updates%64 == 0 {
			if err := ctx.Err(); err != nil {
				return rep, err
			}
		}
		if news != nil && rep.Updates > 0 {
			news.deliver(clock, events[i].Time, view)
		}
		clock = events[i].Time
		for ; i < len(events) && events[i].Time.Equal(clock); i++ {
			ev := &events[i]
			if ev.Kind == polybot.BookTrade {
				continue
			}
			k := ev.Instrument.Key()
			bk := books[k]
			if bk == nil {
				bk = &book{b: marketdata.NewBook(ev.Instrument)}
				books[k] = bk
			}
			bk.b.Apply(ev)
			bk.version++
			b := bk.b
			bk.view = marketdata.View{Instrument: ev.Instrument, Bids: b.Bids, Asks: b.Asks, TickSize: b.TickSize,
				Seq: b.Seq, Version: bk.version, Time: b.Time, Received: b.Received}
			rep.Events++
		}
		if rep.Updates == 0 {
			rep.From = clock
		}
		rep.To = clock
		rep.Updates++
		if runCross {
			for i := range u.Pairs {
				k := &pairs[i]
				consider(k.slot, det.CrossPlatform(&u.Pairs[i], strategy.CrossBooks{
					AYes: view(k.aYes), ANo: view(k.aNo), BYes: view(k.bYes), BNo: view(k.bNo)}))
			}
		}
		if runSingle {
			for _, k := range markets {
				y, n := view(k.yes), view(k.no)
				if y == nil || n == nil {
					continue
				}
				consider(k.slot, det.SinglePlatform(y, n))
			}
		}
		if runOverlap {
			books := func(inst polybot.Instrument) *marketdata.View { return view(inst.Key()) }
			for _, s := range sets {
				consider("l|"+s.ID, det.RebalanceLong(s, books, pairOf))
				consider("h|"+s.ID, det.RebalanceShort(s, books, pairOf))
			}
			for _, r := range rels {
				consider("i|"+r.ID, det.Implication(r, books))
			}
		}
		if news != nil {
			news.step(clock, view)
		}
		rep.Skips = det.Skips()
		if opt.Progress != nil {
			opt.Progress(rep.Updates, total)
		}
	}
	if news != nil {
		news.finish(clock, view)
		rep.NewsTrades = news.trades
		t := news.tally
		r := &rep.Tally
		r.Opportunities += t.Opportunities
		r.Trades += t.Trades
		r.Sets, r.Cost, r.Fees = r.Sets.Add(t.Sets), r.Cost.Add(t.Cost), r.Fees.Add(t.Fees)
		r.FeesPolymarket, r.FeesKalshi = r.FeesPolymarket.Add(t.FeesPolymarket), r.FeesKalshi.Add(t.FeesKalshi)
		r.GrossPnL, r.NetPnL = r.GrossPnL.Add(t.GrossPnL), r.NetPnL.Add(t.NetPnL)
	}
	return rep, nil
}

// Overlapping-arbitrage kinds a report counts apart.
const (
	KindRebalanceLong  = strategy.OverlapRebalanceLong
	KindRebalanceShort = strategy.OverlapRebalanceShort
	KindImplication    = strategy.OverlapImplication
	// KindCrossVenueSet is a rebalancing set (long or short) whose legs
	// are on both venues.
	KindCrossVenueSet = "cross_venue_set"
)

// Kinds lists the kinds in report order.
var Kinds = []string{KindRebalanceLong, KindRebalanceShort, KindImplication, KindCrossVenueSet}

// Kind is an overlapping opportunity's kind in a report; "" for another
// strategy's.
func Kind(o *polybot.Opportunity) string {
	k := strategy.OverlapKind(o)
	if (k == KindRebalanceLong || k == KindRebalanceShort) && len(o.Venues()) > 1 {
		return KindCrossVenueSet
	}
	return k
}

// simulate takes o as a taker: sized, re-priced, checked against the
// tenant's minimum profit, and filled at the recorded best asks.
func simulate(det *strategy.Detector, opt Options, tenant *polybot.Config, features polybot.Features, o *polybot.Opportunity) (*Trade, bool) {
	sets := o.Size
	if opt.MaxTradeUSD.Sign() > 0 {
		sets = sets.Min(opt.MaxTradeUSD.Div(o.Cost))
	}
	r, ok := det.Resize(o, sets)
	if !ok {
		return nil, false
	}
	// The cap is on the cost with the fees of the resized orders, which
	// can be a little more per set than at full size.
	for opt.MaxTradeUSD.Sign() > 0 && r.Cost.Mul(r.Size).GreaterThan(opt.MaxTradeUSD) {
		if r, ok = det.Resize(o, r.Size.Sub(polybot.One)); !ok {
			return nil, false
		}
	}
	if !strategy.Wants(tenant, features, r) {
		return nil, false
	}
	tr := &Trade{Opportunity: *r, Sets: r.Size, Payout: strategy.Payout(r)}
	for _, l := range r.Legs {
		tr.Cost = tr.Cost.Add(l.Price.Mul(r.Size))
		f := strategy.OrderFees(det.Fees(), []polybot.Leg{l}, r.Size)
		tr.Fees = tr.Fees.Add(f)
		switch l.Instrument.Venue {
		case polybot.Polymarket:
			tr.FeesPolymarket = tr.FeesPolymarket.Add(f)
		case polybot.Kalshi:
			tr.FeesKalshi = tr.FeesKalshi.Add(f)
		}
	}
	tr.NetPnL = tr.Sets.Mul(tr.Payout).Sub(tr.Cost).Sub(tr.Fees)
	return tr, true
}
