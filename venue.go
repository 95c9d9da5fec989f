package polybot

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Side is buy or sell.
type Side uint8

const (
	Buy Side = iota
	Sell
)

func (s Side) String() string {
	if s == Sell {
		return "SELL"
	}
	return "BUY"
}

// Outcome is the side of a binary market a contract pays on.
type Outcome uint8

const (
	Yes Outcome = iota
	No
)

func (o Outcome) String() string {
	if o == No {
		return "NO"
	}
	return "YES"
}

// Opposite returns the other outcome.
func (o Outcome) Opposite() Outcome { return 1 - o }

// Instrument is one tradable contract: a Polymarket outcome token, or one
// side of a Kalshi market. Market is the venue's market id (Polymarket
// condition id, Kalshi market ticker); Token is the Polymarket token id (empty
// on Kalshi).
type Instrument struct {
	Venue   Platform `json:"venue"`
	Market  string   `json:"market"`
	Token   string   `json:"token,omitempty"`
	Outcome Outcome  `json:"outcome"`
}

// Key identifies the instrument in maps and logs: "polymarket:<token>" or
// "kalshi:<ticker>:YES".
func (i Instrument) Key() string {
	if i.Token != "" {
		return string(i.Venue) + ":" + i.Token
	}
	return string(i.Venue) + ":" + i.Market + ":" + i.Outcome.String()
}

// Level is one price level of a book: the total size resting at Price.
type Level struct {
	Price Decimal `json:"price"`
	Size  Decimal `json:"size"`
}

// BookEventKind says how a BookEvent changes a book.
type BookEventKind uint8

const (
	// BookSnapshot replaces the whole book.
	BookSnapshot BookEventKind = iota
	// BookDelta sets the listed levels (size 0 removes a level).
	BookDelta
	// BookTickSize changes the tick size.
	BookTickSize
	// BookTrade reports a trade (no book change).
	BookTrade
	// BookInvalidate says the feed lost its connection: the book is no
	// longer known and must not be traded on until a fresh snapshot.
	BookInvalidate
)

// BookEvent is a normalised market-data event for one instrument. Prices are
// in dollars per contract paying $1; sizes in shares or contracts. Bids are
// what buyers pay for this instrument, Asks what sellers want.
type BookEvent struct {
	Kind       BookEventKind
	Instrument Instrument
	Bids, Asks []Level
	TickSize   Decimal
	// Trade fields (BookTrade).
	TradePrice, TradeSize Decimal
	TradeSide             Side
	// Seq is the venue's sequence number where it has one (Kalshi), else 0.
	Seq int64
	// Time is the venue's timestamp; Received is when we read it.
	Time, Received time.Time
}

// TimeInForce is how long an order may rest.
type TimeInForce string

const (
	GTC TimeInForce = "GTC" // good till cancelled
	GTD TimeInForce = "GTD" // good till a date
	FOK TimeInForce = "FOK" // fill entirely at once, or not at all
	FAK TimeInForce = "FAK" // fill what is possible at once, cancel the rest (IOC)
)

// OrderRequest is an order a venue connector sends. ClientOrderID is derived
// from the intent (deterministic) so that a retry or a reconciliation can
// find the same order.
type OrderRequest struct {
	ClientOrderID string
	Instrument    Instrument
	Side          Side
	Price         Decimal // limit price in dollars
	Size          Decimal // contracts or shares
	TIF           TimeInForce
	Expiration    time.Time // GTD only
}

// OrderState is where an order stands at the venue.
type OrderState string

const (
	OrderOpen      OrderState = "open"
	OrderPartial   OrderState = "partially_filled"
	OrderFilled    OrderState = "filled"
	OrderCancelled OrderState = "cancelled"
	OrderRejected  OrderState = "rejected"
)

// OrderStatus is a venue's view of an order.
type OrderStatus struct {
	ClientOrderID string     `json:"client_order_id"`
	VenueOrderID  string     `json:"venue_order_id"`
	Instrument    Instrument `json:"instrument"`
	Side          Side       `json:"side"`
	Price         Decimal    `json:"price"`
	Size          Decimal    `json:"size"`
	State         OrderState `json:"state"`
	Filled        Decimal    `json:"filled"`
	Reason        string     `json:"reason,omitempty"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

// Fill is one execution. TradeID is unique per venue, so fills are
// de-duplicated by it.
type Fill struct {
	TradeID       string     `json:"trade_id"`
	ClientOrderID string     `json:"client_order_id"`
	VenueOrderID  string     `json:"venue_order_id"`
	Instrument    Instrument `json:"instrument"`
	Side          Side       `json:"side"`
	Price         Decimal    `json:"price"`
	Size          Decimal    `json:"size"`
	Fee           Decimal    `json:"fee"`
	Maker         bool       `json:"maker"`
	Time          time.Time  `json:"time"`
}

// Position is a holding of one instrument.
type Position struct {
	Instrument Instrument `json:"instrument"`
	Size       Decimal    `json:"size"`
	AvgPrice   Decimal    `json:"avg_price"`
}

// Balance is cash at a venue, in dollars: Available can be spent now;
// Total also counts what resting orders hold, where the venue says so.
// Neither counts the value of positions.
type Balance struct {
	Available Decimal `json:"available"`
	Total     Decimal `json:"total"`
}

// Exchange is one tenant's trading connection to one venue, with that
// tenant's own credentials. Connectors implement it over the venue's real
// protocol; dry-run implements it against the hub's books.
type Exchange interface {
	Platform() Platform
	// ValidateCredentials makes an authenticated call that changes nothing.
	ValidateCredentials(ctx context.Context) error
	// PlaceOrder sends req. An error wrapping ErrOutcomeUnknown means the
	// order may or may not exist: query it by ClientOrderID, never resend.
	PlaceOrder(ctx context.Context, req OrderRequest) (*OrderStatus, error)
	CancelOrder(ctx context.Context, clientOrderID string) error
	CancelAll(ctx context.Context) error
	// Order looks an order up by its client order id (ENOTFOUND if the venue
	// never saw it).
	Order(ctx context.Context, clientOrderID string) (*OrderStatus, error)
	OpenOrders(ctx context.Context) ([]OrderStatus, error)
	Fills(ctx context.Context, since time.Time) ([]Fill, error)
	Positions(ctx context.Context) ([]Position, error)
	Balance(ctx context.Context) (Balance, error)
}

// MarketFeed is a venue's public market-data stream. The hub owns one per
// venue and opens the venue subscription for an instrument when its first
// subscriber arrives and closes it when the last one leaves.
type MarketFeed interface {
	Platform() Platform
	// Run connects and delivers events to sink until ctx ends, reconnecting
	// with backoff. After a reconnect or a sequence gap it delivers fresh
	// snapshots before any delta.
	Run(ctx context.Context, sink func(BookEvent)) error
	// Subscribe asks for instruments' books. It must not block on the
	// network for longer than ctx allows.
	Subscribe(ctx context.Context, instruments ...Instrument) error
	Unsubscribe(instruments ...Instrument) error
	// Resync asks for a fresh snapshot of inst (after a gap the hub found).
	Resync(inst Instrument) error
}

// ErrOutcomeUnknown marks a request whose result is not known: a timeout or
// a 5xx after the venue may have acted on it.
var ErrOutcomeUnknown = errors.New("outcome unknown")

// VenueError is an error a venue returned, with what callers need to react:
// the HTTP status, the venue's own code, and how long to back off.
type VenueError struct {
	Venue      Platform
	Status     int
	Code       string
	Message    string
	RetryAfter time.Duration
	// Unknown is true when the outcome of the request is not known.
	Unknown bool
}

func (e *VenueError) Error() string {
	s := fmt.Sprintf("%s: HTTP %d", e.Venue, e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return s
}

// Is makes errors.Is(err, ErrOutcomeUnknown) true for unknown outcomes.
func (e *VenueError) Is(target error) bool { return target == ErrOutcomeUnknown && e.Unknown }
