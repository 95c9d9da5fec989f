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
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venue/wire"
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

// call is one request through wire.Send. mutates says the request may
// change something at the venue (an order POST or a reply): then a failure
// after the request may have been written leaves the outcome unknown.
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
	wc := wire.Call{Venue: polybot.IBKR, Mutating: mutates}
	resp, err := wc.Send(c.http, req)
	if err != nil {
		return err
	}
	var eb errorBody
	if !resp.OK() {
		_ = json.Unmarshal(resp.Body, &eb)
		msg, code := eb.Error, ""
		if msg == "" {
			msg = eb.Message
		}
		if msg == "" {
			msg = strings.TrimSpace(string(resp.Body[:min(len(resp.Body), 200)]))
		}
		if eb.StatusCode != 0 {
			code = strconv.Itoa(eb.StatusCode)
		}
		if resp.Status == http.StatusUnauthorized {
			msg = "the IBKR gateway has no authenticated session (sign in through the gateway's page): " + msg
		}
		return wc.Error(resp, code, msg)
	}
	// Some endpoints answer 200 with {"error": ...}: a refusal.
	if len(resp.Body) > 0 && resp.Body[0] == '{' && json.Unmarshal(resp.Body, &eb) == nil && eb.Error != "" {
		return &polybot.VenueError{Venue: polybot.IBKR, Status: resp.Status, Message: eb.Error}
	}
	if out == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(resp.Body))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return &polybot.VenueError{Venue: polybot.IBKR, Status: resp.Status, Message: "unreadable answer: " + err.Error(), Unknown: mutates}
	}
	return nil
}

// Num is a decimal that IBKR sends as a JSON number (0.45, 1.0) or a
// string ("647.09", "1.0", ""); null and "" are zero. It is read from the
// number's text by polybot.ParseDecimal, never through float64, and with
// its limits: more than six places is an error, not a rounding.
type Num polybot.Decimal

// UnmarshalJSON implements json.Unmarshaler.
func (n *Num) UnmarshalJSON(b []byte) error {
	s, err := numText(b)
	if err != nil || s == "" {
		*n = Num{}
		return err
	}
	d, err := polybot.ParseDecimal(s)
	if err != nil {
		return fmt.Errorf("ibkr: decimal %q: %w", s, err)
	}
	*n = Num(d)
	return nil
}

// D is n as a polybot.Decimal.
func (n Num) D() polybot.Decimal { return polybot.Decimal(n) }

// Avg is an average IBKR computed (avgPrice, avgCost, avg_fill_price:
// 584.31333335): a quotient, not a price, so digits beyond six places are
// rounded half away from zero rather than refused. The first six places
// are read by polybot.ParseDecimal.
type Avg polybot.Decimal

// UnmarshalJSON implements json.Unmarshaler.
func (a *Avg) UnmarshalJSON(b []byte) error {
	s, err := numText(b)
	if err != nil || s == "" {
		*a = Avg{}
		return err
	}
	d, err := roundedAverage(s)
	if err != nil {
		return fmt.Errorf("ibkr: average %q: %w", s, err)
	}
	*a = Avg(d)
	return nil
}

// D is a as a polybot.Decimal.
func (a Avg) D() polybot.Decimal { return polybot.Decimal(a) }

// numText is a JSON number's or string's text ("" for null).
func numText(b []byte) (string, error) {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		return "", nil
	}
	if len(s) >= 2 && s[0] == '"' {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return "", err
		}
		return strings.TrimSpace(str), nil
	}
	return s, nil
}

// roundedAverage reads s, rounding half away from zero to six places.
func roundedAverage(s string) (polybot.Decimal, error) {
	dot := strings.IndexByte(s, '.')
	if dot < 0 || len(s)-dot-1 <= polybot.DecimalPlaces {
		return polybot.ParseDecimal(s)
	}
	d, err := polybot.ParseDecimal(s[:dot+1+polybot.DecimalPlaces])
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
		if strings.HasPrefix(s, "-") {
			return d.Sub(polybot.DecimalFromMicros(1)), nil
		}
		return d.Add(polybot.DecimalFromMicros(1)), nil
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
