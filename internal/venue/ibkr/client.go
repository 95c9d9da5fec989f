// Package ibkr is PolyBot's connector to Interactive Brokers through the
// Client Portal Web API: the REST and WebSocket interface that IBKR's Client
// Portal Gateway (or IBKR's hosted api.ibkr.com) serves under /v1/api. It is
// a polybot.Exchange for one tenant's brokerage account and a
// polybot.MarketFeed for market data.
//
// # Session
//
// The gateway holds the login: the user signs in through the gateway's own
// page, and PolyBot only needs the gateway's URL and the account id. A
// Client checks the session (/iserver/auth/status), opens the brokerage
// session when it is not (/iserver/auth/ssodh/init, then
// /iserver/reauthenticate), keeps it alive with /tickle (KeepAlive, a
// goroutine that stops with its context) and checks that the configured
// account is one the session may trade (/iserver/accounts).
//
// # Instruments
//
// ForecastEx event contracts are modelled by IBKR as options: each question
// has a YES contract (a Call) and a NO contract (a Put), each with its own
// conid, quoted from $0.01 to $0.99 in $0.01 ticks and paying $1.00. A
// ForecastEx instrument is polybot.Instrument{Venue: polybot.IBKR, Market:
// "<conid of YES>", Token: "<conid of this side>", Outcome: Yes|No}
// (EventInstrument; a matched pair's IBKR leg gives exactly that). Token
// may be left out: the NO conid then comes from
// /forecast/contract/details (conid_yes, conid_no) and is cached.
//
// ForecastEx takes no sell orders: a position is reduced by buying the
// opposite contract, which IBKR nets. PlaceOrder refuses a SELL of an event
// contract with EINVALID, and SellsByBuyingOpposite tells the execution
// layer which instruments work that way.
//
// Stocks go through the same connector: an instrument whose Market is not a
// number is a stock symbol (polybot.Instrument{Venue: polybot.IBKR, Market:
// "SPY"}), resolved to its STK conid by /iserver/secdef/search.
//
// # Orders
//
// Orders carry the client order id as cOID (IBKR echoes it as order_ref).
// IBKR may answer an order with questions ("reply confirmations": an id,
// message texts and messageIds) that must be answered through
// /iserver/reply/{id} before the order is placed. The connector answers by
// an explicit ReplyPolicy: a question whose every message id is in the
// policy is confirmed; anything else is answered "no", so the order is not
// placed, and PlaceOrder returns EFORBIDDEN naming the message id.
//
// # Money
//
// IBKR sends prices and sizes as JSON numbers or strings; both are read as
// decimal text (json.Number) into polybot.Decimal, never through float64,
// and sent as JSON numbers written from the decimal's text.
//
// It must not import a store, the server, the engine, the market-data hub or
// any simulator (internal/venuesim/...): tests reach the simulator over real
// sockets only.
package ibkr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/polybot/polybot"
)

// APIPath is where the gateway serves the Web API.
const APIPath = "/v1/api"

// DefaultGatewayURL is where IBKR's Client Portal Gateway listens when run
// on the user's machine with its default configuration.
const DefaultGatewayURL = "https://localhost:5000"

// Config configures a Client.
type Config struct {
	// GatewayURL is the gateway's base URL, with or without /v1/api
	// (DefaultGatewayURL when empty).
	GatewayURL string
	// Account is the account id the tenant trades (e.g. "U1234567").
	Account string
	// HTTPClient carries the requests (nil: a client with a 10 s timeout).
	// The gateway keeps its session itself, so no cookie is needed; a Jar
	// set here is used as given.
	HTTPClient *http.Client
	// Replies is how order questions are answered (the zero value refuses
	// every question).
	Replies ReplyPolicy
	// TickleEvery is KeepAlive's period (60 s when zero; IBKR asks for a
	// tickle at least every 5 minutes, about once a minute recommended).
	TickleEvery time.Duration
	Logger      *slog.Logger
}

// Client is one gateway session's REST client.
type Client struct {
	cfg  Config
	base string // scheme://host[:port]/v1/api
	http *http.Client
	log  *slog.Logger
}

// NewClient checks cfg and returns a Client; it makes no call. An empty
// Account makes a client for market data and discovery only.
func NewClient(cfg Config) (*Client, error) {
	v := polybot.Validation{}
	if cfg.GatewayURL == "" {
		cfg.GatewayURL = DefaultGatewayURL
	}
	base := strings.TrimSuffix(strings.TrimRight(cfg.GatewayURL, "/"), APIPath)
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		v.Add(FieldGatewayURL, "must be the gateway's http(s) URL, such as https://localhost:5000")
	}
	if cfg.Account != "" && !polybot.IsIBKRAccountID(cfg.Account) {
		v.Add(polybot.FieldAPIKey, "must be an IBKR account id such as U1234567 (letters and digits)")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.TickleEvery <= 0 {
		cfg.TickleEvery = time.Minute
	}
	return &Client{cfg: cfg, base: base + APIPath, http: hc, log: log.With("venue", "ibkr")}, nil
}

// FieldGatewayURL is the credential field that holds an IBKR tenant's
// gateway URL (the account id is in polybot.FieldAPIKey).
const FieldGatewayURL = polybot.FieldAPISecret

// Account is the account id the client trades.
func (c *Client) Account() string { return c.cfg.Account }

// errorBody is how the gateway reports a failure: {"error": "..."} (with
// "statusCode" on some endpoints) or {"message": "..."}.
type errorBody struct {
	Error      string `json:"error"`
	Message    string `json:"message"`
	StatusCode int    `json:"statusCode"`
}

// call is one request. mutates says the request may change something at
// the venue (an order POST): then a failure after the request may have been
// written leaves the outcome unknown.
func (c *Client) call(ctx context.Context, method, path string, query url.Values, body any, mutates bool, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return polybot.Internal(err)
		}
		rd = bytes.NewReader(b)
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return polybot.Internal(err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "polybot")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return transportError(err, mutates)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return transportError(err, mutates)
	}
	if resp.StatusCode >= 300 {
		return statusError(resp, raw, mutates)
	}
	// Some endpoints answer 200 with {"error": ...}.
	if len(raw) > 0 && raw[0] == '{' {
		var eb errorBody
		if json.Unmarshal(raw, &eb) == nil && eb.Error != "" {
			return &polybot.VenueError{Venue: polybot.IBKR, Status: resp.StatusCode, Message: eb.Error}
		}
	}
	if out == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		ve := &polybot.VenueError{Venue: polybot.IBKR, Status: resp.StatusCode, Message: "unreadable answer: " + err.Error()}
		ve.Unknown = mutates
		return ve
	}
	return nil
}

// transportError classifies a failure with no HTTP answer. A request that
// could not be dialled was never sent; after that, a mutating request may
// have reached the venue, so its outcome is unknown.
func transportError(err error, mutates bool) error {
	ve := &polybot.VenueError{Venue: polybot.IBKR, Message: err.Error()}
	var op *net.OpError
	dial := errors.As(err, &op) && op.Op == "dial"
	ve.Unknown = mutates && !dial
	return ve
}

func statusError(resp *http.Response, raw []byte, mutates bool) error {
	ve := &polybot.VenueError{Venue: polybot.IBKR, Status: resp.StatusCode}
	var eb errorBody
	if json.Unmarshal(raw, &eb) == nil {
		ve.Message = eb.Error
		if ve.Message == "" {
			ve.Message = eb.Message
		}
		if eb.StatusCode != 0 {
			ve.Code = strconv.Itoa(eb.StatusCode)
		}
	}
	if ve.Message == "" {
		ve.Message = strings.TrimSpace(string(raw[:min(len(raw), 200)]))
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		ve.Message = "the IBKR gateway has no authenticated session (sign in through the gateway's page): " + ve.Message
	case resp.StatusCode == http.StatusTooManyRequests:
		ve.RetryAfter = retryAfter(resp.Header.Get("Retry-After"))
	case resp.StatusCode >= 500:
		ve.Unknown = mutates
	}
	return ve
}

// retryAfter reads a Retry-After header in seconds or as an HTTP date; one
// second when absent or unreadable.
func retryAfter(h string) time.Duration {
	if n, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return time.Second
}

// Num is a decimal that IBKR sends as a JSON number ("0.45", 1.0) or a
// string ("647.09", "1.0", ""); null and "" are zero. It is read from the
// number's text, never through float64, rounded half away from zero to
// polybot.Decimal's six places (IBKR sends averages such as 584.31333335).
type Num polybot.Decimal

// UnmarshalJSON implements json.Unmarshaler.
func (n *Num) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		*n = Num{}
		return nil
	}
	if len(s) >= 2 && s[0] == '"' {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		s = strings.TrimSpace(str)
	}
	d, err := ParseNumber(s)
	if err != nil {
		return fmt.Errorf("ibkr: decimal %q: %w", s, err)
	}
	*n = Num(d)
	return nil
}

// D is n as a polybot.Decimal.
func (n Num) D() polybot.Decimal { return polybot.Decimal(n) }

// ParseNumber parses IBKR's decimal text: a plain or exponent-free number
// with any number of fractional digits, rounded half away from zero to six
// places. "" is zero.
func ParseNumber(s string) (polybot.Decimal, error) {
	if s == "" {
		return polybot.Zero, nil
	}
	dot := strings.IndexByte(s, '.')
	if dot < 0 || len(s)-dot-1 <= polybot.DecimalPlaces {
		return polybot.ParseDecimal(s)
	}
	head := s[:dot+1+polybot.DecimalPlaces]
	d, err := polybot.ParseDecimal(head)
	if err != nil {
		return polybot.Zero, err
	}
	rest := s[dot+1+polybot.DecimalPlaces:]
	for i := 0; i < len(rest); i++ {
		if rest[i] < '0' || rest[i] > '9' {
			return polybot.Zero, errors.New("not a decimal number")
		}
	}
	if rest[0] >= '5' {
		ulp := polybot.DecimalFromMicros(1)
		if d.Sign() < 0 || strings.HasPrefix(s, "-") {
			d = d.Sub(ulp)
		} else {
			d = d.Add(ulp)
		}
	}
	return d, nil
}

// number writes d as a JSON number (its exact decimal text).
func number(d polybot.Decimal) json.Number { return json.Number(d.String()) }

// Conid is a contract id, which IBKR sends as a number or a string.
type Conid int64

// UnmarshalJSON implements json.Unmarshaler.
func (c *Conid) UnmarshalJSON(b []byte) error {
	s := strings.Trim(strings.TrimSpace(string(b)), `"`)
	if s == "" || s == "null" {
		*c = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("ibkr: conid %q: %w", s, err)
	}
	*c = Conid(v)
	return nil
}

func (c Conid) String() string { return strconv.FormatInt(int64(c), 10) }

// ID is an identifier IBKR sends as a number or a string (order ids).
type ID string

// UnmarshalJSON implements json.Unmarshaler.
func (i *ID) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		*i = ""
		return nil
	}
	if len(s) >= 2 && s[0] == '"' {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		*i = ID(str)
		return nil
	}
	if _, err := strconv.ParseInt(s, 10, 64); err != nil {
		return fmt.Errorf("ibkr: id %q: %w", s, err)
	}
	*i = ID(s)
	return nil
}

// BaseURL is the API's base (the gateway URL and /v1/api).
func (c *Client) BaseURL() string { return c.base }
