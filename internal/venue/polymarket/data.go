package polymarket

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/polybot/polybot"
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

// Activity types of the Data API (/activity type=…) that copy trading reads.
const (
	ActivityTrade  = "TRADE"
	ActivityRedeem = "REDEEM"
)

// WalletActivity is one row of a wallet's activity as the Data API reports
// it (GET /activity): trades, and the splits, merges, redemptions and
// rewards around them. A REDEEM row of the v1 API carries no asset or side
// and outcomeIndex 999; its usdcSize is what the redemption paid.
type WalletActivity struct {
	ProxyWallet     string `json:"proxyWallet"`
	Timestamp       int64  `json:"timestamp"` // Unix seconds (the block's)
	ConditionID     string `json:"conditionId"`
	Type            string `json:"type"` // ActivityTrade, ActivityRedeem, MERGE, SPLIT, REWARD, …
	Size            Number `json:"size"`
	UsdcSize        Number `json:"usdcSize"`
	TransactionHash string `json:"transactionHash"`
	Price           Number `json:"price"`
	Asset           string `json:"asset"`
	Side            string `json:"side"`
	OutcomeIndex    int    `json:"outcomeIndex"`
	Title           string `json:"title,omitempty"`
	Slug            string `json:"slug,omitempty"`
	EventSlug       string `json:"eventSlug,omitempty"`
	Outcome         string `json:"outcome"`
}

// WalletActivityQuery filters WalletActivity as GET /activity takes it.
type WalletActivityQuery struct {
	User   string   // wallet address (required)
	Market []string // condition ids, optional
	Types  []string // e.g. ActivityTrade, ActivityRedeem; empty: every type
	// Start and End bound the window in Unix seconds (0: the API's default).
	Start, End int64
	Limit      int  // default 100, at most 500
	Offset     int  // at most 10,000 (the API refuses more)
	Ascending  bool // sortDirection=ASC; default newest first
}

// WalletActivity returns a wallet's activity, newest first unless asked
// otherwise (Data API GET /activity).
func (c *Client) WalletActivity(ctx context.Context, q WalletActivityQuery) ([]WalletActivity, error) {
	v := url.Values{"user": {q.User}}
	if len(q.Market) > 0 {
		v.Set("market", strings.Join(q.Market, ","))
	}
	if len(q.Types) > 0 {
		v.Set("type", strings.Join(q.Types, ","))
	}
	if q.Start > 0 {
		v.Set("start", strconv.FormatInt(q.Start, 10))
	}
	if q.End > 0 {
		v.Set("end", strconv.FormatInt(q.End, 10))
	}
	if q.Limit <= 0 {
		q.Limit = 100
	}
	v.Set("limit", strconv.Itoa(min(q.Limit, 500)))
	if q.Offset > 0 {
		v.Set("offset", strconv.Itoa(q.Offset))
	}
	v.Set("sortBy", "TIMESTAMP")
	if q.Ascending {
		v.Set("sortDirection", "ASC")
	} else {
		v.Set("sortDirection", "DESC")
	}
	var out []WalletActivity
	err := c.do(ctx, request{method: http.MethodGet, base: c.cfg.DataURL, path: "/activity", query: v}, &out)
	return out, err
}

// leaderOutcome maps a Data API outcome index to the instrument's outcome:
// 0 is the market's first token (Yes), 1 its second (No); anything else
// (999 on v1 redemptions) is not an outcome.
func leaderOutcome(idx int) (polybot.Outcome, bool) {
	switch idx {
	case 0:
		return polybot.Yes, true
	case 1:
		return polybot.No, true
	}
	return polybot.Yes, false
}

func leaderSide(s string) (polybot.Side, error) {
	switch strings.ToUpper(s) {
	case "BUY":
		return polybot.Buy, nil
	case "SELL":
		return polybot.Sell, nil
	}
	return polybot.Buy, fmt.Errorf("polymarket: trade side %q is neither BUY nor SELL", s)
}

// ToLeaderTrade is the trade as copy trading sees it.
func (t WalletTrade) ToLeaderTrade() (polybot.LeaderTrade, error) {
	side, err := leaderSide(t.Side)
	if err != nil {
		return polybot.LeaderTrade{}, err
	}
	out, ok := leaderOutcome(t.OutcomeIndex)
	if !ok {
		return polybot.LeaderTrade{}, fmt.Errorf("polymarket: trade %s has outcome index %d", t.TransactionHash, t.OutcomeIndex)
	}
	return polybot.LeaderTrade{
		Wallet:     strings.ToLower(t.ProxyWallet),
		Instrument: polybot.Instrument{Venue: polybot.Polymarket, Market: t.ConditionID, Token: t.Asset, Outcome: out},
		Side:       side, Price: t.Price.Decimal, Size: t.Size.Decimal, Time: t.Time(),
		TxHash: t.TransactionHash, Title: t.Title, Outcome: t.Outcome, ConditionID: t.ConditionID,
	}, nil
}

// Time returns the activity's time.
func (a WalletActivity) Time() time.Time { return time.Unix(a.Timestamp, 0) }

// ErrNotATrade is returned by WalletActivity.ToLeaderTrade for activity
// that is neither a trade nor a redemption (splits, merges, rewards…).
var ErrNotATrade = errors.New("polymarket: activity is not a trade or a redemption")

// ToLeaderTrade is a TRADE or REDEEM row as copy trading sees it. A
// redemption is an exit (Side Sell, Redeem set) priced at what it paid a
// share (usdcSize / size: 1 for a winner, 0 for a loser); its token and
// outcome are those of the row when it names them (v1 rows often name
// neither: outcome index 999, no asset).
func (a WalletActivity) ToLeaderTrade() (polybot.LeaderTrade, error) {
	t := polybot.LeaderTrade{
		Wallet:     strings.ToLower(a.ProxyWallet),
		Instrument: polybot.Instrument{Venue: polybot.Polymarket, Market: a.ConditionID, Token: a.Asset},
		Size:       a.Size.Decimal, Time: a.Time(), TxHash: a.TransactionHash,
		Title: a.Title, Outcome: a.Outcome, ConditionID: a.ConditionID,
	}
	out, known := leaderOutcome(a.OutcomeIndex)
	t.Instrument.Outcome = out
	switch strings.ToUpper(a.Type) {
	case ActivityTrade:
		side, err := leaderSide(a.Side)
		if err != nil {
			return polybot.LeaderTrade{}, err
		}
		if !known {
			return polybot.LeaderTrade{}, fmt.Errorf("polymarket: trade %s has outcome index %d", a.TransactionHash, a.OutcomeIndex)
		}
		t.Side, t.Price = side, a.Price.Decimal
	case ActivityRedeem:
		t.Side, t.Redeem = polybot.Sell, true
		switch {
		case a.Size.Sign() <= 0:
		case !a.UsdcSize.LessThan(a.Size.Decimal):
			t.Price = polybot.One // a winner pays a dollar a share
		default:
			t.Price = a.UsdcSize.Div(a.Size.Decimal)
		}
	default:
		return polybot.LeaderTrade{}, ErrNotATrade
	}
	return t, nil
}
