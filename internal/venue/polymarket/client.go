// Package polymarket is PolyBot's connector to Polymarket's CLOB V2: the
// REST API (books, orders, trades, balances, API-key creation with L1 auth
// and every trading call with L2 HMAC auth), the market and user WebSocket
// channels, the Gamma API for market metadata and the Data API for a
// wallet's trades and positions. It implements polybot.Exchange (one per
// tenant, with that tenant's own keys) and polybot.MarketFeed (one per
// process, shared by the market-data hub).
//
// The EIP-712 hashing, order building and the L1/L2 header code live in the
// sign*.go files of this package and in internal/eip712; everything else
// here is transport, decoding and normalisation to polybot types. Prices and
// sizes are exact polybot.Decimal values from the first byte: never float64.
//
// It imports only the root package, internal/eip712 and internal/venue/wire
// (the scanner, REST failure classification and backoff it shares with the
// other connectors), never a store, the server or tenant state.
package polymarket

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venue/wire"
)

// Public endpoints of the production venue.
const (
	DefaultCLOBURL     = "https://clob.polymarket.com"
	DefaultMarketWSURL = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
	DefaultUserWSURL   = "wss://ws-subscriptions-clob.polymarket.com/ws/user"
	DefaultGammaURL    = "https://gamma-api.polymarket.com"
	DefaultDataURL     = "https://data-api.polymarket.com"
)

// Config holds every base URL and transport setting. The zero value of a
// field means its default; the simulator's Start returns a Config pointing
// at itself.
type Config struct {
	CLOBURL     string // REST base, no trailing slash
	MarketWSURL string // market channel, e.g. wss://…/ws/market
	UserWSURL   string // user channel, e.g. wss://…/ws/user
	GammaURL    string // Gamma API base (market metadata)
	DataURL     string // Data API base (wallet trades and positions)
	ChainID     int64  // 137 (Polygon) or 80002 (Amoy)

	// HTTPClient sends REST calls; nil means a client with Timeout.
	HTTPClient *http.Client
	// Timeout bounds one REST call (default 10 s). A POST /order that times
	// out has an unknown outcome.
	Timeout time.Duration
	// PingInterval is how often the WebSocket channels send PING (default
	// 10 s, as the venue asks); a channel silent for three intervals is
	// reconnected.
	PingInterval time.Duration
	// Now is the clock for auth timestamps (default time.Now).
	Now func() time.Time
}

// DefaultConfig returns the production endpoints on Polygon.
func DefaultConfig() Config {
	return Config{
		CLOBURL:     DefaultCLOBURL,
		MarketWSURL: DefaultMarketWSURL,
		UserWSURL:   DefaultUserWSURL,
		GammaURL:    DefaultGammaURL,
		DataURL:     DefaultDataURL,
		ChainID:     ChainPolygon,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.CLOBURL == "" {
		c.CLOBURL = d.CLOBURL
	}
	if c.MarketWSURL == "" {
		c.MarketWSURL = d.MarketWSURL
	}
	if c.UserWSURL == "" {
		c.UserWSURL = d.UserWSURL
	}
	if c.GammaURL == "" {
		c.GammaURL = d.GammaURL
	}
	if c.DataURL == "" {
		c.DataURL = d.DataURL
	}
	if c.ChainID == 0 {
		c.ChainID = d.ChainID
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 10 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: c.Timeout}
	}
	c.CLOBURL = strings.TrimRight(c.CLOBURL, "/")
	c.GammaURL = strings.TrimRight(c.GammaURL, "/")
	c.DataURL = strings.TrimRight(c.DataURL, "/")
	return c
}

// Client is the venue's public REST surface plus the authenticated calls,
// which take the caller's credentials explicitly. It is safe for concurrent
// use and holds no tenant state.
type Client struct {
	cfg Config
}

// NewClient returns a client for cfg (zero fields take their defaults).
func NewClient(cfg Config) *Client { return &Client{cfg: cfg.withDefaults()} }

// Config returns the client's effective configuration.
func (c *Client) Config() Config { return c.cfg }

// APICreds are the L2 credentials the venue issues for a wallet.
type APICreds struct {
	Key        string `json:"apiKey"`
	Secret     string `json:"secret"`
	Passphrase string `json:"passphrase"`
}

// Valid reports whether all three parts are present.
func (a APICreds) Valid() bool { return a.Key != "" && a.Secret != "" && a.Passphrase != "" }

// request is one REST call.
type request struct {
	method string
	base   string // one of the cfg base URLs
	path   string // without query; what L2 signs
	query  url.Values
	body   []byte
	header http.Header
	// mutating marks a call whose effect may have happened even when we saw
	// no answer (a timeout or a 5xx): its error carries Unknown.
	mutating bool
}

// do sends r and decodes a 2xx JSON answer into out (if non-nil). Any other
// answer becomes a *polybot.VenueError carrying the venue's message;
// wire.Call says whether a failure left the outcome unknown.
func (c *Client) do(ctx context.Context, r request, out any) error {
	u := r.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return fmt.Errorf("polymarket: %w", err)
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	req.Header.Set("Accept", "application/json")
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	call := wire.Call{Venue: polybot.Polymarket, Mutating: r.mutating, Limit: 64 << 20}
	resp, err := call.Send(c.cfg.HTTPClient, req)
	if err != nil {
		return err
	}
	if !resp.OK() {
		return call.Error(resp, "", errorMessage(resp.Body))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(resp.Body, out); err != nil {
		// A 2xx we cannot read: for an order, the venue acted but we do
		// not know how.
		e := badResponse(resp.Status, fmt.Sprintf("%s %s: %v", r.method, r.path, err))
		e.Unknown = r.mutating
		return e
	}
	return nil
}

// badResponse is an answer we cannot read. Polymarket has no error codes
// of its own (its errors are {"error": "<message>"}), so Code stays empty.
func badResponse(status int, msg string) *polybot.VenueError {
	return &polybot.VenueError{Venue: polybot.Polymarket, Status: status, Message: "unreadable answer: " + msg}
}

func errorMessage(body []byte) string {
	var v struct {
		Error    json.RawMessage `json:"error"`
		ErrorMsg string          `json:"errorMsg"`
	}
	if json.Unmarshal(body, &v) == nil {
		if len(v.Error) > 0 {
			var s string
			if json.Unmarshal(v.Error, &s) == nil {
				return s
			}
			return string(v.Error)
		}
		if v.ErrorMsg != "" {
			return v.ErrorMsg
		}
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 512 {
		s = s[:512]
	}
	return s
}

// ---- public market data ----

// PriceLevel is one level of a REST or WebSocket book.
type PriceLevel struct {
	Price polybot.Decimal `json:"price"`
	Size  polybot.Decimal `json:"size"`
}

// BookSummary is the answer of GET /book.
type BookSummary struct {
	Market         string          `json:"market"`
	AssetID        string          `json:"asset_id"`
	Timestamp      string          `json:"timestamp"`
	Hash           string          `json:"hash"`
	Bids           []PriceLevel    `json:"bids"`
	Asks           []PriceLevel    `json:"asks"`
	MinOrderSize   polybot.Decimal `json:"min_order_size"`
	TickSize       polybot.Decimal `json:"tick_size"`
	NegRisk        bool            `json:"neg_risk"`
	LastTradePrice string          `json:"last_trade_price,omitempty"`
}

// Book returns the order book of one outcome token.
func (c *Client) Book(ctx context.Context, tokenID string) (*BookSummary, error) {
	var b BookSummary
	err := c.do(ctx, request{method: http.MethodGet, base: c.cfg.CLOBURL, path: "/book",
		query: url.Values{"token_id": {tokenID}}}, &b)
	if err != nil {
		return nil, err
	}
	return &b, nil
}

// Event turns the summary into a snapshot event for inst (whose Market and
// Token are filled from the summary when empty).
func (b *BookSummary) Event(inst polybot.Instrument, received time.Time) polybot.BookEvent {
	inst.Venue = polybot.Polymarket
	if inst.Token == "" {
		inst.Token = b.AssetID
	}
	if inst.Market == "" {
		inst.Market = b.Market
	}
	ev := polybot.BookEvent{Kind: polybot.BookSnapshot, Instrument: inst, TickSize: b.TickSize,
		Received: received, Time: parseMillis(b.Timestamp)}
	ev.Bids = make([]polybot.Level, len(b.Bids))
	for i, l := range b.Bids {
		ev.Bids[i] = polybot.Level{Price: l.Price, Size: l.Size}
	}
	ev.Asks = make([]polybot.Level, len(b.Asks))
	for i, l := range b.Asks {
		ev.Asks[i] = polybot.Level{Price: l.Price, Size: l.Size}
	}
	return ev
}

// TickSize returns the token's minimum price increment.
func (c *Client) TickSize(ctx context.Context, tokenID string) (polybot.Decimal, error) {
	var v struct {
		MinimumTickSize json.Number `json:"minimum_tick_size"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, base: c.cfg.CLOBURL, path: "/tick-size",
		query: url.Values{"token_id": {tokenID}}}, &v); err != nil {
		return polybot.Zero, err
	}
	return parseNumber(string(v.MinimumTickSize))
}

// NegRisk reports whether the token trades on the neg-risk exchange.
func (c *Client) NegRisk(ctx context.Context, tokenID string) (bool, error) {
	var v struct {
		NegRisk bool `json:"neg_risk"`
	}
	err := c.do(ctx, request{method: http.MethodGet, base: c.cfg.CLOBURL, path: "/neg-risk",
		query: url.Values{"token_id": {tokenID}}}, &v)
	return v.NegRisk, err
}

// ServerTime returns the venue's clock (GET /time, Unix seconds).
func (c *Client) ServerTime(ctx context.Context) (time.Time, error) {
	var v json.Number
	if err := c.do(ctx, request{method: http.MethodGet, base: c.cfg.CLOBURL, path: "/time"}, &v); err != nil {
		return time.Time{}, err
	}
	n, err := v.Int64()
	if err != nil {
		return time.Time{}, fmt.Errorf("polymarket: bad /time answer %q", v)
	}
	return time.Unix(n, 0), nil
}

// ---- number helpers ----

// parseNumber parses a JSON number or decimal string exactly, rounding half
// away from zero to six places when the venue sends more (the Data API sends
// floats). Exponents are accepted.
func parseNumber(s string) (polybot.Decimal, error) {
	s = strings.Trim(strings.TrimSpace(s), `"`)
	if s == "" {
		return polybot.Zero, nil
	}
	if d, err := polybot.ParseDecimal(s); err == nil {
		return d, nil
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return polybot.Zero, fmt.Errorf("polymarket: %q is not a number", s)
	}
	r.Mul(r, big.NewRat(1_000_000, 1))
	num, den := r.Num(), r.Denom()
	q, m := new(big.Int).QuoRem(num, den, new(big.Int))
	// Round half away from zero.
	if new(big.Int).Mul(new(big.Int).Abs(m), big.NewInt(2)).Cmp(den) >= 0 {
		if num.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	if !q.IsInt64() {
		return polybot.Zero, fmt.Errorf("polymarket: %q is out of range", s)
	}
	return polybot.DecimalFromMicros(q.Int64()), nil
}

// Number is a Decimal that decodes from a JSON string or a JSON number,
// rounding to six places where the venue sends more.
type Number struct{ polybot.Decimal }

// UnmarshalJSON implements json.Unmarshaler.
func (n *Number) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		n.Decimal = polybot.Zero
		return nil
	}
	d, err := parseNumber(string(b))
	if err != nil {
		return err
	}
	n.Decimal = d
	return nil
}

// parseMillis reads a Unix-milliseconds string ("1757908892351"); it also
// accepts seconds (ten digits or fewer). Bad input gives the zero time.
func parseMillis(s string) time.Time { return wire.UnixTime([]byte(strings.TrimSpace(s))) }
