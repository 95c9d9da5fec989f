package polymarket

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/polybot/polybot"
)

// The CLOB's paginated market list, GET /markets?next_cursor=, which the
// official clients' getMarkets() reads: {limit, count, next_cursor, data},
// the cursor the base64 of the next offset, "LTE=" (base64 "-1") after the
// last page.

// marketsPage is how many markets one page lists.
const marketsPage = 500

// endCursor marks the last page.
const endCursor = "LTE="

func (s *Server) getMarkets(w http.ResponseWriter, r *http.Request) error {
	off := 0
	if c := r.URL.Query().Get("next_cursor"); c != "" && c != "MA==" {
		if c == endCursor {
			return writeJSON(w, map[string]any{"limit": marketsPage, "count": 0, "next_cursor": endCursor, "data": []any{}})
		}
		raw, err := base64.StdEncoding.DecodeString(c)
		n, err2 := strconv.Atoi(string(raw))
		if err != nil || err2 != nil || n < 0 {
			return fail(http.StatusBadRequest, "invalid next_cursor")
		}
		off = n
	}
	s.mu.Lock()
	all := make([]*market, len(s.order))
	copy(all, s.order)
	s.mu.Unlock()
	data := []any{}
	for i := off; i < len(all) && len(data) < marketsPage; i++ {
		data = append(data, s.clobMarketJSON(all[i]))
	}
	next := endCursor
	if end := off + len(data); end < len(all) {
		next = base64.StdEncoding.EncodeToString([]byte(strconv.Itoa(end)))
	}
	return writeJSON(w, map[string]any{"limit": marketsPage, "count": len(data), "next_cursor": next, "data": data})
}

// clobMarketJSON is a market as the CLOB lists it, its tokens priced at
// their midpoint (0 without a two-sided book).
func (s *Server) clobMarketJSON(m *market) map[string]any {
	tick, minSize := m.TickSize, m.MinOrderSize
	if tick.Sign() == 0 {
		tick = polybot.NewDecimal(1, 2)
	}
	tokens := make([]map[string]any, 2)
	for i, t := range m.Tokens {
		outcome := m.Outcomes[i]
		if outcome == "" {
			outcome = [2]string{"Yes", "No"}[i]
		}
		price := json.Number("0")
		if bid, ask, okb, oka := s.best(t); okb && oka {
			// A JSON number, as the venue sends it, written from the exact decimal.
			price = json.Number(polybot.DecimalFromMicros((bid.Price.Micros() + ask.Price.Micros()) / 2).String())
		}
		tokens[i] = map[string]any{"token_id": t, "outcome": outcome, "price": price, "winner": false}
	}
	num := func(d polybot.Decimal) json.Number { return json.Number(d.String()) }
	return map[string]any{
		"condition_id": m.ConditionID, "question_id": m.QuestionID, "question": m.Question, "description": "",
		"market_slug": m.Slug, "tokens": tokens, "active": true, "closed": false, "archived": false,
		"accepting_orders": true, "accepting_order_timestamp": nil, "enable_order_book": true,
		"minimum_order_size": num(minSize), "minimum_tick_size": num(tick), "neg_risk": m.NegRisk,
		"neg_risk_market_id": m.NegRiskMarketID, "neg_risk_request_id": "", "maker_base_fee": 0, "taker_base_fee": 0,
		"end_date_iso": "", "game_start_time": nil, "seconds_delay": 0, "fpmm": "", "icon": "", "image": "",
		"is_50_50_outcome": false, "notifications_enabled": true, "tags": []string{},
		"rewards": map[string]any{"rates": nil, "min_size": 0, "max_spread": 0},
	}
}
