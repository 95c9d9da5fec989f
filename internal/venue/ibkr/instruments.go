package ibkr

import (
	"context"
	"sync"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/fee"
)

// SellsByBuyingOpposite reports whether inst is a ForecastEx event contract,
// which takes no sell orders (polybot.VenueOf(polybot.IBKR).Sell is
// polybot.BuyOpposite): a YES position is reduced by buying NO (and the
// reverse), and IBKR nets the pair. Stocks through IBKR sell as usual.
func SellsByBuyingOpposite(inst polybot.Instrument) bool {
	return polybot.VenueOf(inst.Venue).Sell == polybot.BuyOpposite && fee.IBKREventContract(inst)
}

// EventInstrument is the instrument of one side of a ForecastEx question:
// Market the question's YES conid, Token the side's own conid. It is what
// the connector reports in orders, fills and positions, and what a pair
// leg {Venue: ibkr, Market: yes, Yes: yes, No: no} gives.
func EventInstrument(yes, side Conid, o polybot.Outcome) polybot.Instrument {
	return polybot.Instrument{Venue: polybot.IBKR, Market: yes.String(), Token: side.String(), Outcome: o}
}

// Event-contract facts (IBKR's event-trading guide,
// https://www.interactivebrokers.com/campus/ibkr-api-page/event-trading/):
// quoted in $0.01 increments, paying $1.00.
var (
	EventTick   = fee.IBKRDefaultRules.Tick
	EventPayout = polybot.One
)

// resolver maps instruments to conids and back, caching what it learns.
// Exchange and Feed share one.
type resolver struct {
	c *Client

	mu      sync.Mutex
	no      map[Conid]Conid              // YES conid -> NO conid
	byConid map[Conid]polybot.Instrument // any known conid -> instrument
	stocks  map[string]Conid             // symbol -> STK conid
}

func newResolver(c *Client) *resolver {
	return &resolver{c: c, no: map[Conid]Conid{}, byConid: map[Conid]polybot.Instrument{}, stocks: map[string]Conid{}}
}

// conid is the contract an instrument trades: Token when it names one (a
// pair leg's YES or NO contract), else the YES or NO conid of the question
// whose YES conid is Market, else a stock's STK conid.
func (r *resolver) conid(ctx context.Context, inst polybot.Instrument) (Conid, error) {
	if inst.Venue != polybot.IBKR || (inst.Market == "" && inst.Token == "") {
		return 0, polybot.FieldError("instrument", "must be an IBKR instrument: a ForecastEx contract or a stock symbol")
	}
	if inst.Token != "" {
		id, ok := parseConid(inst.Token)
		if !ok {
			return 0, polybot.FieldError("instrument", "an IBKR token must be a ForecastEx contract's conid")
		}
		r.mu.Lock()
		if _, known := r.byConid[id]; !known {
			r.byConid[id] = inst
		}
		r.mu.Unlock()
		return id, nil
	}
	yes, event := parseConid(inst.Market)
	if !event {
		return r.stock(ctx, inst.Market)
	}
	if inst.Outcome == polybot.Yes {
		return yes, nil
	}
	r.mu.Lock()
	no, ok := r.no[yes]
	r.mu.Unlock()
	if ok {
		return no, nil
	}
	d, err := r.c.ForecastDetails(ctx, yes)
	if err != nil {
		return 0, err
	}
	if d.ConidYes != yes || d.ConidNo == 0 {
		return 0, polybot.FieldError("instrument", "the market of a ForecastEx instrument without a token must be the question's YES conid")
	}
	r.pair(d)
	return d.ConidNo, nil
}

func (r *resolver) stock(ctx context.Context, symbol string) (Conid, error) {
	r.mu.Lock()
	id, ok := r.stocks[symbol]
	r.mu.Unlock()
	if ok {
		return id, nil
	}
	id, err := r.c.StockConid(ctx, symbol)
	if err != nil {
		return 0, err
	}
	r.mu.Lock()
	r.stocks[symbol] = id
	r.byConid[id] = polybot.Instrument{Venue: polybot.IBKR, Market: symbol}
	r.mu.Unlock()
	return id, nil
}

func (r *resolver) pair(d ForecastDetails) {
	r.mu.Lock()
	r.no[d.ConidYes] = d.ConidNo
	r.byConid[d.ConidYes] = EventInstrument(d.ConidYes, d.ConidYes, polybot.Yes)
	r.byConid[d.ConidNo] = EventInstrument(d.ConidYes, d.ConidNo, polybot.No)
	r.mu.Unlock()
}

// instrument maps a conid from an order, trade or position back. A stock
// (secType STK) is named by its symbol; an event contract by its question's
// YES conid, looked up once.
func (r *resolver) instrument(ctx context.Context, id Conid, secType, symbol string) (polybot.Instrument, error) {
	r.mu.Lock()
	inst, ok := r.byConid[id]
	r.mu.Unlock()
	if ok {
		return inst, nil
	}
	if secType == "STK" && symbol != "" {
		inst = polybot.Instrument{Venue: polybot.IBKR, Market: symbol}
		r.mu.Lock()
		r.byConid[id], r.stocks[symbol] = inst, id
		r.mu.Unlock()
		return inst, nil
	}
	d, err := r.c.ForecastDetails(ctx, id)
	if err != nil {
		return polybot.Instrument{}, err
	}
	r.pair(d)
	r.mu.Lock()
	inst, ok = r.byConid[id]
	r.mu.Unlock()
	if !ok {
		return polybot.Instrument{}, polybot.Errorf(polybot.ENOTFOUND, "IBKR contract %d is neither a stock nor a ForecastEx contract", id)
	}
	return inst, nil
}
