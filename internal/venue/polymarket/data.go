package polymarket

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// WalletTrade is one trade of a wallet as the Data API reports it (the
// copy-trading source). Numbers arrive as JSON floats and are rounded to
// six places exactly.
type WalletTrade struct {
	ProxyWallet     string `json:"proxyWallet"`
	Side            string `json:"side"`
	Asset           string `json:"asset"`
	ConditionID     string `json:"conditionId"`
	Size            Number `json:"size"`
	Price           Number `json:"price"`
	Timestamp       int64  `json:"timestamp"` // Unix seconds
	Title           string `json:"title,omitempty"`
	Slug            string `json:"slug,omitempty"`
	EventSlug       string `json:"eventSlug,omitempty"`
	Outcome         string `json:"outcome"`
	OutcomeIndex    int    `json:"outcomeIndex"`
	TransactionHash string `json:"transactionHash"`
}

// Time returns the trade's time.
func (t WalletTrade) Time() time.Time { return time.Unix(t.Timestamp, 0) }

// WalletPosition is one holding of a wallet as the Data API reports it.
type WalletPosition struct {
	ProxyWallet  string `json:"proxyWallet"`
	Asset        string `json:"asset"`
	ConditionID  string `json:"conditionId"`
	Size         Number `json:"size"`
	AvgPrice     Number `json:"avgPrice"`
	CurPrice     Number `json:"curPrice"`
	InitialValue Number `json:"initialValue"`
	CurrentValue Number `json:"currentValue"`
	CashPnl      Number `json:"cashPnl"`
	RealizedPnl  Number `json:"realizedPnl"`
	Outcome      string `json:"outcome"`
	OutcomeIndex int    `json:"outcomeIndex"`
	Title        string `json:"title,omitempty"`
	Slug         string `json:"slug,omitempty"`
	NegativeRisk bool   `json:"negativeRisk"`
}

// WalletTradesQuery filters WalletTrades.
type WalletTradesQuery struct {
	User   string // wallet address (required)
	Market string // condition id, optional
	Limit  int    // default 100
	Offset int
}

// WalletTrades returns a wallet's trades, newest first (Data API GET /trades).
func (c *Client) WalletTrades(ctx context.Context, q WalletTradesQuery) ([]WalletTrade, error) {
	v := url.Values{"user": {q.User}}
	if q.Market != "" {
		v.Set("market", q.Market)
	}
	if q.Limit <= 0 {
		q.Limit = 100
	}
	v.Set("limit", strconv.Itoa(q.Limit))
	if q.Offset > 0 {
		v.Set("offset", strconv.Itoa(q.Offset))
	}
	var out []WalletTrade
	err := c.do(ctx, request{method: http.MethodGet, base: c.cfg.DataURL, path: "/trades", query: v}, &out)
	return out, err
}

// WalletPositions returns a wallet's open positions (Data API GET /positions).
func (c *Client) WalletPositions(ctx context.Context, user string) ([]WalletPosition, error) {
	var out []WalletPosition
	err := c.do(ctx, request{method: http.MethodGet, base: c.cfg.DataURL, path: "/positions",
		query: url.Values{"user": {user}, "sizeThreshold": {"0"}}}, &out)
	return out, err
}
