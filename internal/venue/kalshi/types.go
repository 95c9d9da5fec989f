package kalshi

import (
	"encoding/json"

	"github.com/polybot/polybot"
)

// Wire types of the Trade API v2, with the fields PolyBot reads. Dollar
// ("_dollars") and count ("_fp") strings decode exactly into polybot.Decimal;
// fields that the API may send as null are pointers.

// Market is one binary market.
type Market struct {
	Ticker               string           `json:"ticker"`
	EventTicker          string           `json:"event_ticker"`
	MarketType           string           `json:"market_type,omitempty"`
	Title                string           `json:"title,omitempty"`
	Subtitle             string           `json:"subtitle,omitempty"`
	YesSubTitle          string           `json:"yes_sub_title,omitempty"`
	NoSubTitle           string           `json:"no_sub_title,omitempty"`
	Status               string           `json:"status"`
	OpenTime             string           `json:"open_time,omitempty"`
	CloseTime            string           `json:"close_time,omitempty"`
	ExpirationTime       string           `json:"expiration_time,omitempty"`
	YesBidDollars        *polybot.Decimal `json:"yes_bid_dollars,omitempty"`
	YesAskDollars        *polybot.Decimal `json:"yes_ask_dollars,omitempty"`
	NoBidDollars         *polybot.Decimal `json:"no_bid_dollars,omitempty"`
	NoAskDollars         *polybot.Decimal `json:"no_ask_dollars,omitempty"`
	LastPriceDollars     *polybot.Decimal `json:"last_price_dollars,omitempty"`
	VolumeFP             *polybot.Decimal `json:"volume_fp,omitempty"`
	OpenInterestFP       *polybot.Decimal `json:"open_interest_fp,omitempty"`
	Result               string           `json:"result,omitempty"`
	PriceLevelStructure  string           `json:"price_level_structure,omitempty"`
	PriceRanges          []PriceRange     `json:"price_ranges,omitempty"`
	RulesPrimary         string           `json:"rules_primary,omitempty"`
	NotionalValueDollars *polybot.Decimal `json:"notional_value_dollars,omitempty"`
}

// PriceRange is a band of valid prices and its tick.
type PriceRange struct {
	Start polybot.Decimal `json:"start"`
	End   polybot.Decimal `json:"end"`
	Step  polybot.Decimal `json:"step"`
}

// TickSize returns the smallest step of the market's price ranges, or one
// cent when it lists none.
func (m *Market) TickSize() polybot.Decimal {
	tick := polybot.NewDecimal(1, 2)
	for i, r := range m.PriceRanges {
		if i == 0 || r.Step.LessThan(tick) {
			tick = r.Step
		}
	}
	return tick
}

// Event groups markets.
type Event struct {
	EventTicker           string           `json:"event_ticker"`
	SeriesTicker          string           `json:"series_ticker"`
	Title                 string           `json:"title,omitempty"`
	SubTitle              string           `json:"sub_title,omitempty"`
	MutuallyExclusive     bool             `json:"mutually_exclusive"`
	Markets               []Market         `json:"markets,omitempty"`
	FeeTypeOverride       string           `json:"fee_type_override,omitempty"`
	FeeMultiplierOverride *polybot.Decimal `json:"fee_multiplier_override,omitempty"`
}

// Series groups events and carries the fee schedule.
type Series struct {
	Ticker        string          `json:"ticker"`
	Frequency     string          `json:"frequency,omitempty"`
	Title         string          `json:"title,omitempty"`
	Category      string          `json:"category,omitempty"`
	FeeType       string          `json:"fee_type"`
	FeeMultiplier polybot.Decimal `json:"fee_multiplier"`
}

// OrderbookFP is the REST order book in dollar form: two bid ladders of
// [price, count] string pairs, YES bids and NO bids.
type OrderbookFP struct {
	YesDollars [][2]polybot.Decimal `json:"yes_dollars"`
	NoDollars  [][2]polybot.Decimal `json:"no_dollars"`
}

// Order is an order as Kalshi reports it.
type Order struct {
	OrderID          string          `json:"order_id"`
	UserID           string          `json:"user_id,omitempty"`
	ClientOrderID    string          `json:"client_order_id"`
	Ticker           string          `json:"ticker"`
	Side             string          `json:"side,omitempty"`   // legacy: yes | no
	Action           string          `json:"action,omitempty"` // legacy: buy | sell
	OutcomeSide      string          `json:"outcome_side,omitempty"`
	BookSide         string          `json:"book_side,omitempty"` // bid | ask (on the YES book)
	Type             string          `json:"type,omitempty"`
	Status           string          `json:"status"` // resting | canceled | executed
	YesPriceDollars  polybot.Decimal `json:"yes_price_dollars"`
	NoPriceDollars   polybot.Decimal `json:"no_price_dollars"`
	FillCountFP      polybot.Decimal `json:"fill_count_fp"`
	RemainingCountFP polybot.Decimal `json:"remaining_count_fp"`
	InitialCountFP   polybot.Decimal `json:"initial_count_fp"`
	TakerFeesDollars polybot.Decimal `json:"taker_fees_dollars"`
	MakerFeesDollars polybot.Decimal `json:"maker_fees_dollars"`
	ExpirationTime   string          `json:"expiration_time,omitempty"`
	CreatedTime      string          `json:"created_time,omitempty"`
	LastUpdateTime   string          `json:"last_update_time,omitempty"`
	SelfTradePrevent string          `json:"self_trade_prevention_type,omitempty"`
}

// Order statuses.
const (
	StatusResting  = "resting"
	StatusCanceled = "canceled"
	StatusExecuted = "executed"
)

// Fill is one execution of the caller's order.
type Fill struct {
	FillID          string          `json:"fill_id"`
	TradeID         string          `json:"trade_id"`
	OrderID         string          `json:"order_id"`
	ClientOrderID   string          `json:"client_order_id,omitempty"`
	Ticker          string          `json:"ticker"`
	MarketTicker    string          `json:"market_ticker,omitempty"`
	Side            string          `json:"side,omitempty"`
	Action          string          `json:"action,omitempty"`
	OutcomeSide     string          `json:"outcome_side,omitempty"`
	BookSide        string          `json:"book_side,omitempty"`
	CountFP         polybot.Decimal `json:"count_fp"`
	YesPriceDollars polybot.Decimal `json:"yes_price_dollars"`
	NoPriceDollars  polybot.Decimal `json:"no_price_dollars"`
	IsTaker         bool            `json:"is_taker"`
	FeeCost         polybot.Decimal `json:"fee_cost"`
	CreatedTime     string          `json:"created_time,omitempty"`
	Ts              int64           `json:"ts,omitempty"`
}

// MarketPosition is a net holding in one market: positive is YES contracts,
// negative NO contracts.
type MarketPosition struct {
	Ticker                string          `json:"ticker"`
	PositionFP            polybot.Decimal `json:"position_fp"`
	MarketExposureDollars polybot.Decimal `json:"market_exposure_dollars"`
	RealizedPnlDollars    polybot.Decimal `json:"realized_pnl_dollars"`
	FeesPaidDollars       polybot.Decimal `json:"fees_paid_dollars"`
	TotalTradedDollars    polybot.Decimal `json:"total_traded_dollars"`
}

// BalanceResponse is GET /portfolio/balance. Balance and PortfolioValue are
// cents; BalanceDollars is the exact dollar form when the venue sends it.
type BalanceResponse struct {
	Balance        int64            `json:"balance"`
	BalanceDollars *polybot.Decimal `json:"balance_dollars,omitempty"`
	PortfolioValue int64            `json:"portfolio_value"`
	UpdatedTs      int64            `json:"updated_ts"`
}

// CreateOrderV2Request is POST /portfolio/events/orders: a bid or an ask on
// the market's YES book at a dollar price.
type CreateOrderV2Request struct {
	Ticker                  string `json:"ticker"`
	ClientOrderID           string `json:"client_order_id,omitempty"`
	Side                    string `json:"side"`  // bid | ask
	Count                   string `json:"count"` // "10.00"
	Price                   string `json:"price"` // "0.5600", the YES price
	TimeInForce             string `json:"time_in_force"`
	ExpirationTime          int64  `json:"expiration_time,omitempty"` // unix seconds
	PostOnly                bool   `json:"post_only,omitempty"`
	ReduceOnly              bool   `json:"reduce_only,omitempty"`
	SelfTradePreventionType string `json:"self_trade_prevention_type"`
}

// CreateOrderV2Response is what POST /portfolio/events/orders answers.
type CreateOrderV2Response struct {
	OrderID          string           `json:"order_id"`
	ClientOrderID    string           `json:"client_order_id,omitempty"`
	FillCount        polybot.Decimal  `json:"fill_count"`
	RemainingCount   polybot.Decimal  `json:"remaining_count"`
	AverageFillPrice *polybot.Decimal `json:"average_fill_price,omitempty"`
	AverageFeePaid   *polybot.Decimal `json:"average_fee_paid,omitempty"`
	TsMs             int64            `json:"ts_ms"`
}

// CreateOrderRequest is the legacy POST /portfolio/orders: side yes|no,
// action buy|sell, a price on that side.
type CreateOrderRequest struct {
	Ticker          string `json:"ticker"`
	ClientOrderID   string `json:"client_order_id,omitempty"`
	Side            string `json:"side"`   // yes | no
	Action          string `json:"action"` // buy | sell
	CountFP         string `json:"count_fp,omitempty"`
	YesPriceDollars string `json:"yes_price_dollars,omitempty"`
	NoPriceDollars  string `json:"no_price_dollars,omitempty"`
	TimeInForce     string `json:"time_in_force,omitempty"`
	ExpirationTs    int64  `json:"expiration_ts,omitempty"`
	PostOnly        bool   `json:"post_only,omitempty"`
}

// Time-in-force values on the wire.
const (
	TIFGoodTillCanceled  = "good_till_canceled"
	TIFImmediateOrCancel = "immediate_or_cancel"
	TIFFillOrKill        = "fill_or_kill"
)

// ErrorBody is Kalshi's error shape: {"error": {"code", "message", "details"}}.
// Some endpoints answer it flat, {"code", "message"}; both decode.
type ErrorBody struct {
	Error   *ErrorDetail `json:"error,omitempty"`
	Code    string       `json:"code,omitempty"`
	Message string       `json:"message,omitempty"`
}

// ErrorDetail is the inner error object.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details string `json:"details,omitempty"`
}

// pageCursor is the cursor every list endpoint returns.
type pageCursor struct {
	Cursor string `json:"cursor"`
}

type marketsResponse struct {
	Markets []Market `json:"markets"`
	pageCursor
}

type eventsResponse struct {
	Events []Event `json:"events"`
	pageCursor
}

type eventResponse struct {
	Event   Event    `json:"event"`
	Markets []Market `json:"markets"`
}

type seriesListResponse struct {
	Series []Series `json:"series"`
}

type ordersResponse struct {
	Orders []Order `json:"orders"`
	pageCursor
}

type fillsResponse struct {
	Fills []Fill `json:"fills"`
	pageCursor
}

type positionsResponse struct {
	MarketPositions []MarketPosition  `json:"market_positions"`
	EventPositions  []json.RawMessage `json:"event_positions"`
	pageCursor
}
