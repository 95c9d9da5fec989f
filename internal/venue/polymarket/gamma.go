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
	"github.com/polybot/polybot/internal/fee"
)

// GammaMarket is a market's metadata from the Gamma API. The venue sends
// the outcomes and token ids as JSON-encoded strings; they are decoded here.
type GammaMarket struct {
	ID          string
	Question    string
	ConditionID string
	Slug        string
	Outcomes    []string // "Yes", "No", …
	TokenIDs    []string // clob token ids, in the order of Outcomes
	Active      bool
	Closed      bool
	NegRisk     bool
	// NegRiskMarketID is the neg-risk market (the event's id on the
	// NegRiskAdapter) a negRisk market belongs to; QuestionID is the
	// market's question there. GroupItemTitle is the outcome's short name
	// in its event ("25 bps decrease"). NegRiskOther marks an event's
	// "Other" market.
	NegRiskMarketID string
	QuestionID      string
	GroupItemTitle  string
	NegRiskOther    bool
	TickSize        polybot.Decimal
	MinOrderSize    polybot.Decimal
	EndDate         time.Time
	// FeesEnabled and FeeSchedule are the market's taker fee schedule
	// (Gamma's feesEnabled and feeSchedule {rate, exponent, takerOnly,
	// rebateRate}); a market without fees has the zero schedule.
	FeesEnabled bool
	FeeSchedule fee.PolymarketSchedule
	// RebateRate is the share of taker fees paid back to makers.
	RebateRate polybot.Decimal
}

// feeScheduleJSON is Gamma's feeSchedule object (numbers or strings).
type feeScheduleJSON struct {
	Rate       Number `json:"rate"`
	Exponent   Number `json:"exponent"`
	TakerOnly  bool   `json:"takerOnly"`
	RebateRate Number `json:"rebateRate"`
}

// gammaMarketJSON is the wire form.
type gammaMarketJSON struct {
	ID                    string           `json:"id"`
	Question              string           `json:"question"`
	ConditionID           string           `json:"conditionId"`
	Slug                  string           `json:"slug"`
	Outcomes              string           `json:"outcomes"`
	ClobTokenIDs          string           `json:"clobTokenIds"`
	Active                bool             `json:"active"`
	Closed                bool             `json:"closed"`
	NegRisk               bool             `json:"negRisk"`
	NegRiskMarketID       string           `json:"negRiskMarketID"`
	QuestionID            string           `json:"questionID"`
	GroupItemTitle        string           `json:"groupItemTitle"`
	NegRiskOther          bool             `json:"negRiskOther"`
	OrderPriceMinTickSize Number           `json:"orderPriceMinTickSize"`
	OrderMinSize          Number           `json:"orderMinSize"`
	EndDate               string           `json:"endDate"`
	FeesEnabled           bool             `json:"feesEnabled"`
	FeeSchedule           *feeScheduleJSON `json:"feeSchedule"`
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
	if m.NegRisk {
		j["negRiskMarketID"], j["questionID"], j["negRiskOther"] = m.NegRiskMarketID, m.QuestionID, m.NegRiskOther
	}
	if m.GroupItemTitle != "" {
		j["groupItemTitle"] = m.GroupItemTitle
	}
	if !m.EndDate.IsZero() {
		j["endDate"] = m.EndDate.UTC().Format(time.RFC3339)
	}
	j["feesEnabled"] = m.FeesEnabled
	j["feeSchedule"] = nil
	if m.FeesEnabled {
		j["feeSchedule"] = map[string]any{"rate": json.Number(m.FeeSchedule.Rate.String()),
			"exponent": m.FeeSchedule.ExponentValue(), "takerOnly": true, "rebateRate": json.Number(m.RebateRate.String())}
	}
	return j
}

func (j gammaMarketJSON) market() (GammaMarket, error) {
	m := GammaMarket{ID: j.ID, Question: j.Question, ConditionID: j.ConditionID, Slug: j.Slug,
		Active: j.Active, Closed: j.Closed, NegRisk: j.NegRisk, NegRiskMarketID: j.NegRiskMarketID,
		QuestionID: j.QuestionID, GroupItemTitle: j.GroupItemTitle, NegRiskOther: j.NegRiskOther,
		TickSize: j.OrderPriceMinTickSize.Decimal, MinOrderSize: j.OrderMinSize.Decimal}
	if j.Outcomes != "" {
		if err := json.Unmarshal([]byte(j.Outcomes), &m.Outcomes); err != nil {
			return m, fmt.Errorf("gamma market %s: outcomes: %w", j.ID, err)
		}
	}
	if j.ClobTokenIDs != "" {
		if err := json.Unmarshal([]byte(j.ClobTokenIDs), &m.TokenIDs); err != nil {
			return m, fmt.Errorf("gamma market %s: clobTokenIds: %w", j.ID, err)
		}
	}
	if j.EndDate != "" {
		m.EndDate, _ = time.Parse(time.RFC3339, j.EndDate)
	}
	m.FeesEnabled = j.FeesEnabled
	if j.FeesEnabled && j.FeeSchedule != nil {
		fs, err := fee.NewPolymarketSchedule(j.FeeSchedule.Rate.Decimal, j.FeeSchedule.Exponent.Decimal)
		if err != nil {
			return m, fmt.Errorf("gamma market %s: %w", j.ID, err)
		}
		m.FeeSchedule, m.RebateRate = fs, j.FeeSchedule.RebateRate.Decimal
	}
	return m, nil
}

// ClobMarketInfo is the CLOB's parameters for a market (GET
// /clob-markets/{condition_id}): tick, minimum order size and the fee
// details fd {r: rate, e: exponent, to: taker only}, which the venue omits
// on a fee-free market.
type ClobMarketInfo struct {
	ConditionID  string
	TickSize     polybot.Decimal
	MinOrderSize polybot.Decimal
	FeeSchedule  fee.PolymarketSchedule
}

// ClobMarketInfo reads a market's CLOB parameters, fee schedule included
// (what the venue's docs say to query fees with).
func (c *Client) ClobMarketInfo(ctx context.Context, conditionID string) (*ClobMarketInfo, error) {
	var v struct {
		C   string `json:"c"`
		MTS Number `json:"mts"`
		MOS Number `json:"mos"`
		FD  *struct {
			R Number `json:"r"`
			E Number `json:"e"`
		} `json:"fd"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, base: c.cfg.CLOBURL, path: "/clob-markets/" + url.PathEscape(conditionID)}, &v); err != nil {
		return nil, err
	}
	info := &ClobMarketInfo{ConditionID: v.C, TickSize: v.MTS.Decimal, MinOrderSize: v.MOS.Decimal}
	if info.ConditionID == "" {
		info.ConditionID = conditionID
	}
	if v.FD != nil {
		fs, err := fee.NewPolymarketSchedule(v.FD.R.Decimal, v.FD.E.Decimal)
		if err != nil {
			return nil, fmt.Errorf("polymarket: clob market %s: %w", conditionID, err)
		}
		info.FeeSchedule = fs
	}
	return info, nil
}

// ClobMarketInfoJSON is info in the CLOB's wire form (for the simulator):
// fd only when the market charges fees, as the venue does.
func ClobMarketInfoJSON(info ClobMarketInfo, tokens, outcomes [2]string, negRisk bool) map[string]any {
	j := map[string]any{
		"c":   info.ConditionID,
		"t":   []map[string]string{{"t": tokens[0], "o": outcomes[0]}, {"t": tokens[1], "o": outcomes[1]}},
		"mts": json.Number(info.TickSize.String()), "mos": json.Number(info.MinOrderSize.String()),
		"nr": negRisk, "r": nil, "mbf": 0, "tbf": 0,
	}
	if !info.FeeSchedule.FeeFree() {
		j["fd"] = map[string]any{"r": json.Number(info.FeeSchedule.Rate.String()), "e": info.FeeSchedule.ExponentValue(), "to": true}
		j["tbf"] = 1000 // the legacy base fee in bps, 1000 on every fee-charging market
	}
	return j
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
	return gammaList(ctx, c, "/markets", pageQuery(v, q.Active, q.Closed, q.Limit, q.Offset),
		func(j gammaMarketJSON) (GammaMarket, error) {
			m, err := j.market()
			if err != nil {
				return m, fmt.Errorf("polymarket: %w", err)
			}
			return m, nil
		})
}

// pageQuery adds the Gamma listing filters both /markets and /events take.
func pageQuery(v url.Values, active, closed *bool, limit, offset int) url.Values {
	if active != nil {
		v.Set("active", strconv.FormatBool(*active))
	}
	if closed != nil {
		v.Set("closed", strconv.FormatBool(*closed))
	}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	if offset > 0 {
		v.Set("offset", strconv.Itoa(offset))
	}
	return v
}

// gammaList reads a Gamma listing at path and converts each item.
func gammaList[J, T any](ctx context.Context, c *Client, path string, v url.Values, conv func(J) (T, error)) ([]T, error) {
	var raw []J
	if err := c.do(ctx, request{method: http.MethodGet, base: c.cfg.GammaURL, path: path, query: v}, &raw); err != nil {
		return nil, err
	}
	out := make([]T, 0, len(raw))
	for _, j := range raw {
		t, err := conv(j)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}
