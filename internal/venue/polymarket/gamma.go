package polymarket

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/polybot/polybot"
)

// GammaMarket is a market's metadata from the Gamma API. The venue sends
// the outcomes and token ids as JSON-encoded strings; they are decoded here.
type GammaMarket struct {
	ID           string
	Question     string
	ConditionID  string
	Slug         string
	Outcomes     []string // "Yes", "No", …
	TokenIDs     []string // clob token ids, in the order of Outcomes
	Active       bool
	Closed       bool
	NegRisk      bool
	TickSize     polybot.Decimal
	MinOrderSize polybot.Decimal
	EndDate      time.Time
}

// gammaMarketJSON is the wire form.
type gammaMarketJSON struct {
	ID                    string `json:"id"`
	Question              string `json:"question"`
	ConditionID           string `json:"conditionId"`
	Slug                  string `json:"slug"`
	Outcomes              string `json:"outcomes"`
	ClobTokenIDs          string `json:"clobTokenIds"`
	Active                bool   `json:"active"`
	Closed                bool   `json:"closed"`
	NegRisk               bool   `json:"negRisk"`
	OrderPriceMinTickSize Number `json:"orderPriceMinTickSize"`
	OrderMinSize          Number `json:"orderMinSize"`
	EndDate               string `json:"endDate"`
}

// GammaMarketJSON returns m in the Gamma API's wire form (for the
// simulator).
func GammaMarketJSON(m GammaMarket) any {
	outcomes, _ := json.Marshal(m.Outcomes)
	tokens, _ := json.Marshal(m.TokenIDs)
	j := map[string]any{
		"id": m.ID, "question": m.Question, "conditionId": m.ConditionID, "slug": m.Slug,
		"outcomes": string(outcomes), "clobTokenIds": string(tokens),
		"active": m.Active, "closed": m.Closed, "negRisk": m.NegRisk,
		"orderPriceMinTickSize": json.Number(m.TickSize.String()),
		"orderMinSize":          json.Number(m.MinOrderSize.String()),
		"enableOrderBook":       true,
	}
	if !m.EndDate.IsZero() {
		j["endDate"] = m.EndDate.UTC().Format(time.RFC3339)
	}
	return j
}

func (j gammaMarketJSON) market() (GammaMarket, error) {
	m := GammaMarket{ID: j.ID, Question: j.Question, ConditionID: j.ConditionID, Slug: j.Slug,
		Active: j.Active, Closed: j.Closed, NegRisk: j.NegRisk,
		TickSize: j.OrderPriceMinTickSize.Decimal, MinOrderSize: j.OrderMinSize.Decimal}
	if j.Outcomes != "" {
		if err := json.Unmarshal([]byte(j.Outcomes), &m.Outcomes); err != nil {
			return m, fmt.Errorf("polymarket: gamma market %s: outcomes: %w", j.ID, err)
		}
	}
	if j.ClobTokenIDs != "" {
		if err := json.Unmarshal([]byte(j.ClobTokenIDs), &m.TokenIDs); err != nil {
			return m, fmt.Errorf("polymarket: gamma market %s: clobTokenIds: %w", j.ID, err)
		}
	}
	if j.EndDate != "" {
		m.EndDate, _ = time.Parse(time.RFC3339, j.EndDate)
	}
	return m, nil
}

// Instruments returns the market's outcome tokens as instruments. For a
// binary market the first outcome is Yes and the second No.
func (m GammaMarket) Instruments() []polybot.Instrument {
	out := make([]polybot.Instrument, 0, len(m.TokenIDs))
	for i, t := range m.TokenIDs {
		o := polybot.Yes
		if i == 1 {
			o = polybot.No
		}
		out = append(out, polybot.Instrument{Venue: polybot.Polymarket, Market: m.ConditionID, Token: t, Outcome: o})
	}
	return out
}

// MarketsQuery filters GammaMarkets; zero fields are not sent.
type MarketsQuery struct {
	Slug         string
	ConditionIDs []string
	TokenIDs     []string
	Active       *bool
	Closed       *bool
	Limit        int
	Offset       int
}

// Markets lists markets from the Gamma API (GET /markets).
func (c *Client) Markets(ctx context.Context, q MarketsQuery) ([]GammaMarket, error) {
	v := url.Values{}
	if q.Slug != "" {
		v.Set("slug", q.Slug)
	}
	for _, id := range q.ConditionIDs {
		v.Add("condition_ids", id)
	}
	for _, id := range q.TokenIDs {
		v.Add("clob_token_ids", id)
	}
	if q.Active != nil {
		v.Set("active", strconv.FormatBool(*q.Active))
	}
	if q.Closed != nil {
		v.Set("closed", strconv.FormatBool(*q.Closed))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Offset > 0 {
		v.Set("offset", strconv.Itoa(q.Offset))
	}
	var raw []gammaMarketJSON
	if err := c.do(ctx, request{method: http.MethodGet, base: c.cfg.GammaURL, path: "/markets", query: v}, &raw); err != nil {
		return nil, err
	}
	out := make([]GammaMarket, 0, len(raw))
	for _, j := range raw {
		m, err := j.market()
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}
