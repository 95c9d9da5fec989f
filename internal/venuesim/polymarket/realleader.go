package polymarket

import (
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/polybot/polybot"
	pm "github.com/polybot/polybot/internal/venue/polymarket"
)

// RealLeaderActivityJSON is a real recorded Data API /activity response: ten
// BUY trades of the wallet 0x6a72…33ee in one NHL market on 24 Apr 2026
// (a copy of testdata/polymarket/data_api_activity.json; source and licence
// in testdata/README.md).
//
//go:embed recordings/data_api_activity.json
var RealLeaderActivityJSON []byte

// RealLeader returns the recorded wallet as a leader, its market, and book
// snapshots of both tokens around the recorded prices: for each level the
// trades' prices floored to the tick, asks with what the leader's trades
// take there and 100 shares more, and a bid of 500 a tick below the lowest
// ask. Apply the snapshots before the leader plays (the books are made up
// around real prices: sizes are assumptions).
func RealLeader() (LeaderConfig, Market, []polybot.BookEvent, error) {
	var rows []pm.WalletActivity
	if err := json.Unmarshal(RealLeaderActivityJSON, &rows); err != nil {
		return LeaderConfig{}, Market{}, nil, err
	}
	var l LeaderConfig
	var m Market
	tick := polybot.NewDecimal(1, 2)
	asks := map[string]map[polybot.Decimal]polybot.Decimal{}
	for _, r := range rows {
		t, err := r.ToLeaderTrade()
		if err != nil {
			return LeaderConfig{}, Market{}, nil, err
		}
		l.Address = t.Wallet
		l.Trades = append(l.Trades, t)
		idx := 0
		if t.Instrument.Outcome == polybot.No {
			idx = 1
		}
		m.ConditionID, m.Question, m.Slug = t.ConditionID, t.Title, r.Slug
		m.Tokens[idx], m.Outcomes[idx] = t.Instrument.Token, t.Outcome
		if asks[t.Instrument.Token] == nil {
			asks[t.Instrument.Token] = map[polybot.Decimal]polybot.Decimal{}
		}
		p := t.Price.Floor(tick)
		asks[t.Instrument.Token][p] = asks[t.Instrument.Token][p].Add(t.Size)
	}
	if m.Tokens[0] == "" || m.Tokens[1] == "" {
		return LeaderConfig{}, Market{}, nil, fmt.Errorf("real leader: the recording does not trade both tokens")
	}
	m.TickSize = tick
	var evs []polybot.BookEvent
	for idx, tok := range m.Tokens {
		ev := polybot.BookEvent{Kind: polybot.BookSnapshot, TickSize: tick,
			Instrument: polybot.Instrument{Venue: polybot.Polymarket, Market: m.ConditionID, Token: tok, Outcome: polybot.Outcome(idx)}}
		low := polybot.One
		for p, size := range asks[tok] {
			ev.Asks = append(ev.Asks, polybot.Level{Price: p, Size: size.Add(polybot.NewDecimal(100, 0))})
			low = low.Min(p)
		}
		if bid := low.Sub(tick); bid.Sign() > 0 {
			ev.Bids = []polybot.Level{{Price: bid, Size: polybot.NewDecimal(500, 0)}}
		}
		evs = append(evs, ev)
	}
	return l, m, evs, nil
}
