package ibkr

import (
	"context"
	"net/url"
	"strconv"

	"github.com/polybot/polybot"
)

// SecdefResult is one /iserver/secdef/search match.
type SecdefResult struct {
	Conid         Conid  `json:"conid"`
	CompanyHeader string `json:"companyHeader"`
	CompanyName   string `json:"companyName"`
	Symbol        string `json:"symbol"`
	Description   string `json:"description"`
	Sections      []struct {
		SecType  string `json:"secType"`
		Months   string `json:"months"`
		Exchange string `json:"exchange"`
		Conid    Conid  `json:"conid"`
	} `json:"sections"`
}

// SecdefInfo is one /iserver/secdef/info contract.
type SecdefInfo struct {
	Conid           Conid  `json:"conid"`
	Symbol          string `json:"symbol"`
	SecType         string `json:"secType"`
	Exchange        string `json:"exchange"`
	ListingExchange string `json:"listingExchange"`
	Right           string `json:"right"`
	Strike          Num    `json:"strike"`
	MaturityDate    string `json:"maturityDate"`
}

// SecdefSearch looks a symbol up (secType "" searches all; "STK" stocks).
func (c *Client) SecdefSearch(ctx context.Context, symbol, secType string) ([]SecdefResult, error) {
	q := url.Values{"symbol": {symbol}}
	if secType != "" {
		q.Set("secType", secType)
	}
	var out []SecdefResult
	err := c.call(ctx, "GET", "/iserver/secdef/search", q, nil, false, &out)
	return out, err
}

// SecdefInfo reads the contracts of an underlying (options: month, strike
// and right narrow it).
func (c *Client) SecdefInfo(ctx context.Context, conid Conid, secType, month, exchange, strike, right string) ([]SecdefInfo, error) {
	q := url.Values{"conid": {conid.String()}, "sectype": {secType}}
	for k, v := range map[string]string{"month": month, "exchange": exchange, "strike": strike, "right": right} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var out []SecdefInfo
	err := c.call(ctx, "GET", "/iserver/secdef/info", q, nil, false, &out)
	return out, err
}

// StockConid is the conid of a US-listed stock: the first search match with
// an STK section.
func (c *Client) StockConid(ctx context.Context, symbol string) (Conid, error) {
	rs, err := c.SecdefSearch(ctx, symbol, "STK")
	if err != nil {
		return 0, err
	}
	for _, r := range rs {
		if r.Symbol != symbol {
			continue
		}
		for _, s := range r.Sections {
			if s.SecType == "STK" {
				return r.Conid, nil
			}
		}
	}
	return 0, polybot.Errorf(polybot.ENOTFOUND, "IBKR has no stock %q", symbol)
}

// ForecastCategories is /forecast/category/tree: categories by id, leaves
// holding markets (an underlying conid each).
type ForecastCategories struct {
	Categories map[string]struct {
		Name     string `json:"name"`
		ParentID string `json:"parent_id"`
		Markets  []struct {
			Name         string `json:"name"`
			Symbol       string `json:"symbol"`
			Exchange     string `json:"exchange"`
			Conid        Conid  `json:"conid"`
			ProductConid Conid  `json:"product_conid"`
		} `json:"markets"`
	} `json:"categories"`
}

// ForecastContract is one contract of a ForecastEx market: side "Y" (YES,
// a call) or "N" (NO, a put).
type ForecastContract struct {
	Conid           Conid  `json:"conid"`
	Side            string `json:"side"`
	Expiration      string `json:"expiration"`
	Strike          Num    `json:"strike"`
	StrikeLabel     string `json:"strike_label"`
	ExpiryLabel     string `json:"expiry_label"`
	UnderlyingConid Conid  `json:"underlying_conid"`
	TimeSpecifier   string `json:"time_specifier"`
}

// ForecastMarket is /forecast/contract/market: every contract of one
// underlying market.
type ForecastMarket struct {
	MarketName string             `json:"market_name"`
	Exchange   string             `json:"exchange"`
	Symbol     string             `json:"symbol"`
	Payout     Num                `json:"payout"`
	Contracts  []ForecastContract `json:"contracts"`
}

// ForecastDetails is /forecast/contract/details: one question's YES and NO
// conids.
type ForecastDetails struct {
	ConidYes        Conid  `json:"conid_yes"`
	ConidNo         Conid  `json:"conid_no"`
	Question        string `json:"question"`
	Side            string `json:"side"`
	StrikeLabel     string `json:"strike_label"`
	Strike          Num    `json:"strike"`
	Exchange        string `json:"exchange"`
	Expiration      string `json:"expiration"`
	Symbol          string `json:"symbol"`
	MarketName      string `json:"market_name"`
	UnderlyingConid Conid  `json:"underlying_conid"`
	Payout          Num    `json:"payout"`
	IsRestricted    bool   `json:"is_restricted"`
}

// ForecastRules is /forecast/contract/rules. Payout and PriceIncrement are
// display text ("$1.00", "$0.01").
type ForecastRules struct {
	AssetClass     string `json:"asset_class"`
	MarketName     string `json:"market_name"`
	MeasuredPeriod string `json:"measured_period"`
	Threshold      string `json:"threshold"`
	SourceAgency   string `json:"source_agency"`
	LastTradeTime  int64  `json:"last_trade_time"`
	ReleaseTime    int64  `json:"release_time"`
	PayoutTime     int64  `json:"payout_time"`
	ProductCode    string `json:"product_code"`
	Payout         string `json:"payout"`
	PriceIncrement string `json:"price_increment"`
	Timezone       string `json:"exchange_timezone"`
}

// ForecastSchedules is /forecast/contract/schedules.
type ForecastSchedules struct {
	Timezone         string `json:"timezone"`
	TradingSchedules []struct {
		DayOfWeek    string `json:"day_of_week"`
		TradingTimes []struct {
			Open  string `json:"open"`
			Close string `json:"close"`
		} `json:"trading_times"`
	} `json:"trading_schedules"`
}

// ForecastCategories reads the event-contract category tree.
func (c *Client) ForecastCategories(ctx context.Context) (ForecastCategories, error) {
	var out ForecastCategories
	err := c.call(ctx, "GET", "/forecast/category/tree", nil, nil, false, &out)
	return out, err
}

// ForecastMarket reads every contract of an underlying market (e.g. the Fed
// funds target rate market).
func (c *Client) ForecastMarket(ctx context.Context, underlying Conid) (ForecastMarket, error) {
	var out ForecastMarket
	q := url.Values{"underlyingConid": {underlying.String()}, "exchange": {"FORECASTX"}}
	err := c.call(ctx, "GET", "/forecast/contract/market", q, nil, false, &out)
	return out, err
}

// ForecastDetails reads one contract's question and its YES and NO conids.
func (c *Client) ForecastDetails(ctx context.Context, conid Conid) (ForecastDetails, error) {
	var out ForecastDetails
	err := c.call(ctx, "GET", "/forecast/contract/details", url.Values{"conid": {conid.String()}}, nil, false, &out)
	return out, err
}

// ForecastRules reads one contract's rules.
func (c *Client) ForecastRules(ctx context.Context, conid Conid) (ForecastRules, error) {
	var out ForecastRules
	err := c.call(ctx, "GET", "/forecast/contract/rules", url.Values{"conid": {conid.String()}}, nil, false, &out)
	return out, err
}

// ForecastSchedules reads one contract's trading hours.
func (c *Client) ForecastSchedules(ctx context.Context, conid Conid) (ForecastSchedules, error) {
	var out ForecastSchedules
	err := c.call(ctx, "GET", "/forecast/contract/schedules", url.Values{"conid": {conid.String()}}, nil, false, &out)
	return out, err
}

// parseConid reads a numeric market id; ok is false for a stock symbol.
func parseConid(s string) (Conid, bool) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v <= 0 {
		return 0, false
	}
	return Conid(v), true
}
