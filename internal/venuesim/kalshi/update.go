package kalshi

import (
	"maps"
	"slices"
	"strconv"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venuesim/matching"
)

// onUpdate turns one engine update into accounting and WebSocket frames. The
// engine calls it one update at a time, in order, under opMu.
func (s *Server) onUpdate(u matching.Update) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ticker := u.Book
	m := s.markets[ticker]
	if m == nil {
		return
	}
	sc := s.series[m.SeriesTicker]
	type fillOut struct {
		keyID string
		msg   map[string]any
	}
	var fills []fillOut
	var trades []map[string]any
	for _, t := range u.Trades {
		m.volume = m.volume.Add(t.Size)
		m.lastPx = t.Price
		for _, leg := range t.Legs() {
			if leg.Account == matching.MarketAccount {
				continue
			}
			a := s.accounts[leg.Account]
			meta := s.meta[leg.OrderID]
			if a == nil || meta == nil {
				continue
			}
			f := seriesFee(sc, t.Price, t.Size, leg.Taker)
			post := a.settle(ticker, leg.Side, t.Price, t.Size, f, t.Time)
			cost := t.Price.Mul(t.Size)
			if leg.Taker {
				meta.takerFees, meta.takerCost = meta.takerFees.Add(f), meta.takerCost.Add(cost)
			} else {
				meta.makerFees, meta.makerCost = meta.makerFees.Add(f), meta.makerCost.Add(cost)
			}
			rec := fillRecord{TradeID: t.ID, OrderID: leg.OrderID, ClientOrderID: meta.clientID, Ticker: ticker, BookSide: leg.Side,
				YesPrice: t.Price, Count: t.Size, Fee: f, Taker: leg.Taker, PostPosition: post, Time: t.Time, Legacy: meta.legacy}
			a.fills = append(a.fills, rec)
			msg := fillJSON(&rec)
			msg["post_position_fp"] = count(post)
			fills = append(fills, fillOut{leg.Account, msg})
		}
		taker := "yes"
		if t.TakerSide == polybot.Sell {
			taker = "no"
		}
		no := polybot.One.Sub(t.Price)
		trades = append(trades, map[string]any{"trade_id": t.ID, "market_ticker": ticker,
			"yes_price": cents(t.Price), "no_price": cents(no),
			"yes_price_dollars": dollars(t.Price), "no_price_dollars": dollars(no),
			"count": t.Size.Micros() / 1_000_000, "count_fp": count(t.Size), "taker_side": taker,
			"ts": t.Time.Unix(), "ts_ms": t.Time.UnixMilli()})
	}
	var deltas []map[string]any
	for _, l := range u.Levels {
		side, price := "yes", l.Price
		if l.Side == polybot.Sell {
			side, price = "no", polybot.One.Sub(l.Price)
		}
		deltas = append(deltas, map[string]any{"market_ticker": ticker, "market_id": marketID(ticker),
			"price": cents(price), "delta": l.Delta.Micros() / 1_000_000,
			"price_dollars": dollars(price), "delta_fp": count(l.Delta), "side": side,
			"ts": u.Time.UTC().Format("2006-01-02T15:04:05.000Z07:00"), "ts_ms": u.Time.UnixMilli()})
	}
	var tick map[string]any
	if len(u.Trades) > 0 || len(u.Levels) > 0 {
		d := s.eng.Depth(ticker, 1)
		var bid, ask polybot.Decimal
		var bidSize, askSize polybot.Decimal
		if len(d.Bids) > 0 {
			bid, bidSize = d.Bids[0].Price, d.Bids[0].Size
		}
		ask = polybot.One
		if len(d.Asks) > 0 {
			ask, askSize = d.Asks[0].Price, d.Asks[0].Size
		}
		tick = map[string]any{"market_ticker": ticker, "market_id": marketID(ticker),
			"price": cents(m.lastPx), "yes_bid": cents(bid), "yes_ask": cents(ask),
			"price_dollars": dollars(m.lastPx), "yes_bid_dollars": dollars(bid), "yes_ask_dollars": dollars(ask),
			"yes_bid_size_fp": count(bidSize), "yes_ask_size_fp": count(askSize),
			"volume_fp": count(m.volume), "ts": u.Time.Unix()}
	}
	skip := int64(0)
	if len(deltas) > 0 && s.skipSeq[ticker] > 0 {
		s.skipSeq[ticker]--
		skip = 1
	}
	for c := range s.conns {
		c.mu.Lock()
		for _, sid := range slices.Sorted(maps.Keys(c.subs)) {
			sub := c.subs[sid]
			switch sub.channel {
			case "orderbook_delta":
				if !sub.covers(ticker) {
					continue
				}
				for i, d := range deltas {
					k := int64(0)
					if i == 0 {
						k = skip
					}
					c.publish(sub, "orderbook_delta", d, k)
				}
			case "trade":
				if sub.covers(ticker) {
					for _, t := range trades {
						c.publish(sub, "trade", t, 0)
					}
				}
			case "ticker":
				if tick != nil && sub.covers(ticker) {
					c.publish(sub, "ticker", tick, 0)
				}
			case "fill":
				for _, f := range fills {
					if f.keyID == c.keyID {
						c.publish(sub, "fill", f.msg, 0)
					}
				}
			}
		}
		c.mu.Unlock()
	}
}

// fillJSON is a fill as Kalshi shows it, on REST and on the fill channel.
func fillJSON(f *fillRecord) map[string]any {
	side, action := "yes", "buy"
	if f.BookSide == polybot.Sell {
		action = "sell"
	}
	yes, no := f.YesPrice, polybot.One.Sub(f.YesPrice)
	if f.Legacy != nil {
		side, action = f.Legacy.Side, f.Legacy.Action
	}
	bookSide, outcome := "bid", "yes"
	if f.BookSide == polybot.Sell {
		bookSide, outcome = "ask", "no"
	}
	m := map[string]any{"fill_id": f.TradeID + "-" + f.OrderID, "trade_id": f.TradeID, "order_id": f.OrderID,
		"ticker": f.Ticker, "market_ticker": f.Ticker, "side": side, "action": action,
		"outcome_side": outcome, "book_side": bookSide, "count": f.Count.Micros() / 1_000_000, "count_fp": count(f.Count),
		"yes_price": cents(yes), "no_price": cents(no), "yes_price_dollars": dollars(yes), "no_price_dollars": dollars(no),
		"is_taker": f.Taker, "fee_cost": dollars(f.Fee), "created_time": rfc3339(f.Time), "ts": f.Time.Unix(),
		"ts_ms": f.Time.UnixMilli(), "exchange_index": 0}
	if f.ClientOrderID != "" {
		m["client_order_id"] = f.ClientOrderID
	}
	return m
}

// dollars formats a price or amount with at least four places, as Kalshi's
// fixed-point dollar strings ("0.5600"), and more when it needs them.
func dollars(d polybot.Decimal) string { return fixed(d, max(4, d.Places())) }

// count formats a contract count with two places ("10.00").
func count(d polybot.Decimal) string { return fixed(d, max(2, d.Places())) }

// cents is the legacy integer-cents form (truncated).
func cents(d polybot.Decimal) int64 { return d.Micros() / 10_000 }

func fixed(d polybot.Decimal, places int) string {
	u := d.Micros()
	neg := u < 0
	if neg {
		u = -u
	}
	s := strconv.FormatInt(u/1_000_000, 10)
	if places > 0 {
		frac := strconv.FormatInt(u%1_000_000+1_000_000, 10)[1:]
		s += "." + frac[:places]
	}
	if neg {
		return "-" + s
	}
	return s
}
