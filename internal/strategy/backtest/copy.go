package backtest

import (
	"slices"
	"strings"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata"
	"github.com/polybot/polybot/internal/strategy"
)

// Copy trading in a replay (RunCopy): a leader's recorded trades (the Data
// API's, oldest first) through one follower's leader settings, decided as
// the bot decides them (strategy.Detector.Copy: sizing, caps, price guard,
// venue minimums, exits in proportion). No book of the leader's market is
// recorded with its trades, so each is decided on the book its own fill
// shows: an ask at the leader's price rounded up to the tick for a buy (a
// bid rounded down for a sale), deep enough for any copy. So the price
// guard never binds here, and the copies are as good as the leader's
// fills: an upper bound on what copying earned. Copies are filled as
// takers at that price; what is still held at the end is marked at the
// leader's last price of the token.

// CopyTrade is one leader trade and what the follower did with it.
type CopyTrade struct {
	Trade  polybot.LeaderTrade `json:"trade"`
	Action string              `json:"action"` // polybot.CopyCopied, CopySkipped, CopyExit
	Reason string              `json:"reason,omitempty"`
	Size   polybot.Decimal     `json:"size"`
	Price  polybot.Decimal     `json:"price"`
	Fee    polybot.Decimal     `json:"fee"`
}

// CopyReport is a copy replay's result. Money in dollars.
type CopyReport struct {
	Trades     []CopyTrade     `json:"trades"`
	Copied     int             `json:"copied"`
	Skipped    int             `json:"skipped"`
	Exits      int             `json:"exits"`
	Cost       polybot.Decimal `json:"cost"`       // Σ bought, fees excluded
	Fees       polybot.Decimal `json:"fees"`       // Σ fees of every order
	Realized   polybot.Decimal `json:"realized"`   // exits: proceeds − the cost of what they sold
	Unrealized polybot.Decimal `json:"unrealized"` // still held, at the leader's last price, less its cost
	NetPnL     polybot.Decimal `json:"net_pnl"`    // Realized + Unrealized − Fees
}

// RunCopy replays trades (any order; they are taken oldest first) for a
// follower with leader l and balance (for balance_pct sizing).
func RunCopy(trades []polybot.LeaderTrade, l *polybot.Leader, balance polybot.Decimal, opt Options) *CopyReport {
	ts := slices.Clone(trades)
	slices.SortStableFunc(ts, func(a, b polybot.LeaderTrade) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Key(), b.Key())
	})
	var clock time.Time
	det := strategy.New(strategy.Config{Fees: opt.Fees, Facts: opt.Facts, MaxQuoteAge: time.Hour, Now: func() time.Time { return clock }})
	rep := &CopyReport{}
	held := map[string]polybot.Decimal{}       // token → shares held from the leader
	cost := map[string]polybot.Decimal{}       // token → their cost
	spentIn := map[string]polybot.Decimal{}    // market → dollars held there
	leaderHeld := map[string]polybot.Decimal{} // token → the leader's shares, from its trades
	last := map[string]polybot.Decimal{}       // token → the leader's last price
	type spend struct {
		at  time.Time
		usd polybot.Decimal
	}
	var spends []spend
	for _, tr := range ts {
		clock = tr.Time
		tok := tr.Instrument.Token
		tick := det.Rules(tr.Instrument).Tick
		px := tr.Price
		if tick.Sign() > 0 {
			if tr.Side == polybot.Buy && !tr.Redeem {
				px = px.Ceil(tick)
			} else {
				px = px.Floor(tick)
			}
		}
		v := &marketdata.View{Instrument: tr.Instrument, Version: 1, Time: tr.Time, Received: tr.Time,
			Asks: []polybot.Level{{Price: px, Size: polybot.NewDecimal(1_000_000_000, 0)}},
			Bids: []polybot.Level{{Price: px.Sub(tick).Max(polybot.Zero), Size: polybot.NewDecimal(1_000_000_000, 0)}}}
		day := polybot.Zero
		for _, s := range spends {
			if tr.Time.Sub(s.at) < 24*time.Hour {
				day = day.Add(s.usd)
			}
		}
		st := strategy.CopyState{Now: tr.Time, Balance: balance, HeldShares: held[tok], MarketSpent: spentIn[tr.Instrument.Market],
			DaySpent: day, LeaderHeld: leaderHeld[tok]}
		d := det.Copy(l, &tr, v, st)
		ct := CopyTrade{Trade: tr}
		switch {
		case d.Buy != nil:
			leg := d.Buy.Legs[0]
			fee := det.Fees().TakerFee(leg.Instrument, leg.Price, d.Buy.Size)
			usd := leg.Price.Mul(d.Buy.Size)
			ct.Action, ct.Size, ct.Price, ct.Fee = polybot.CopyCopied, d.Buy.Size, leg.Price, fee
			held[tok], cost[tok] = held[tok].Add(d.Buy.Size), cost[tok].Add(usd)
			spentIn[tr.Instrument.Market] = spentIn[tr.Instrument.Market].Add(usd)
			spends = append(spends, spend{tr.Time, usd})
			rep.Copied++
			rep.Cost, rep.Fees = rep.Cost.Add(usd), rep.Fees.Add(fee)
		case d.Sell.Sign() > 0:
			price := px
			if tr.Redeem {
				price = tr.Price
			}
			fee := polybot.Zero
			if !tr.Redeem { // a redemption pays out; no order, no fee
				fee = det.Fees().TakerFee(tr.Instrument, price, d.Sell)
			}
			basis := cost[tok].Mul(d.Sell).Div(held[tok])
			ct.Action, ct.Size, ct.Price, ct.Fee = polybot.CopyExit, d.Sell, price, fee
			rep.Realized = rep.Realized.Add(price.Mul(d.Sell).Sub(basis))
			held[tok], cost[tok] = held[tok].Sub(d.Sell), cost[tok].Sub(basis)
			spentIn[tr.Instrument.Market] = spentIn[tr.Instrument.Market].Sub(basis).Max(polybot.Zero)
			rep.Exits++
			rep.Fees = rep.Fees.Add(fee)
		default:
			ct.Action, ct.Reason = polybot.CopySkipped, d.Reason
			rep.Skipped++
		}
		rep.Trades = append(rep.Trades, ct)
		switch {
		case tr.Redeem:
			leaderHeld[tok] = polybot.Zero
		case tr.Side == polybot.Sell:
			leaderHeld[tok] = leaderHeld[tok].Sub(tr.Size).Max(polybot.Zero)
		default:
			leaderHeld[tok] = leaderHeld[tok].Add(tr.Size)
		}
		last[tok] = tr.Price
	}
	for tok, n := range held {
		if n.Sign() > 0 {
			rep.Unrealized = rep.Unrealized.Add(last[tok].Mul(n).Sub(cost[tok]))
		}
	}
	rep.NetPnL = rep.Realized.Add(rep.Unrealized).Sub(rep.Fees)
	return rep
}
