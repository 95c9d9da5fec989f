package polybot

// VenueKind is what a platform trades.
type VenueKind uint8

const (
	// Prediction: binary event contracts that pay $1 on YES (Polymarket,
	// Kalshi, IBKR ForecastEx).
	Prediction VenueKind = iota + 1
	// Equity: shares (and crypto) at a broker (Alpaca, IBKR stocks).
	Equity
)

// SellRule is how a venue takes a position down.
type SellRule uint8

const (
	// SellHeld: sell what you hold (an unwind is a sell at the bid).
	SellHeld SellRule = iota + 1
	// BuyOpposite: the venue takes no sell orders. A YES position is
	// reduced by buying NO (and NO by buying YES): the pair settles to $1
	// and the venue nets it (IBKR ForecastEx).
	BuyOpposite
)

// VenueFacts are one platform's domain facts: what the UI, the engine and
// detection need to know about it and would otherwise switch on the
// platform for. Tick, lot and minimum size are per instrument and, with
// the fee model, live in internal/fee (Rules, Venues).
type VenueFacts struct {
	Platform Platform
	// Label is how the UI and messages name it.
	Label string
	Kind  VenueKind
	// FillOrKill: the venue takes FOK orders. Legs on a venue without
	// them are sent fill-and-kill (FAK).
	FillOrKill bool
	Sell       SellRule
	// TokenPerOutcome: each outcome of a market is its own instrument,
	// told apart by Instrument.Token (Polymarket's token ids, IBKR's
	// contract ids: Call = YES, Put = NO). Otherwise a market is one
	// ticker (Instrument.Market) with YES and NO sides (Kalshi).
	TokenPerOutcome bool
	// FractionalMarketOrders: market orders may be for part of a unit
	// (Alpaca's fractional shares); limit orders keep the Rules' lot.
	FractionalMarketOrders bool
	// ConfigField is the tenant config switch that turns trading on the
	// platform on (Config.PlatformEnabled reads it).
	ConfigField string
	// Optional: an extra broker a tenant may connect, not one of the
	// prediction venues every tenant is set up for.
	Optional bool
	// Simulated: `polybot sim` and `serve --sim` run a simulator of it.
	Simulated bool
}

// venueFacts is the one table of platform facts.
var venueFacts = map[Platform]VenueFacts{
	Polymarket: {Platform: Polymarket, Label: "Polymarket", Kind: Prediction, FillOrKill: true, Sell: SellHeld,
		TokenPerOutcome: true, ConfigField: "enable_polymarket", Simulated: true},
	Kalshi: {Platform: Kalshi, Label: "Kalshi", Kind: Prediction, FillOrKill: true, Sell: SellHeld,
		ConfigField: "enable_kalshi", Simulated: true},
	Alpaca: {Platform: Alpaca, Label: "Alpaca", Kind: Equity, FillOrKill: true, Sell: SellHeld,
		FractionalMarketOrders: true, ConfigField: "enable_alpaca", Optional: true, Simulated: true},
	// ForecastEx event contracts through the Client Portal API: $0.01
	// ticks and whole contracts (internal/fee), no sell orders.
	IBKR: {Platform: IBKR, Label: "Interactive Brokers", Kind: Prediction, FillOrKill: false, Sell: BuyOpposite,
		TokenPerOutcome: true, ConfigField: "enable_ibkr", Optional: true, Simulated: true},
}

// VenueOf returns p's facts. A platform not in the table has only its
// name as Label and no capabilities.
func VenueOf(p Platform) VenueFacts {
	if f, ok := venueFacts[p]; ok {
		return f
	}
	return VenueFacts{Platform: p, Label: string(p)}
}

// PlatformName is how the UI and messages name a platform.
func PlatformName(p Platform) string { return VenueOf(p).Label }

// SameInstrument reports whether a and b are the same instrument under
// their venue's identity: the token where each outcome has one, else the
// market and the outcome. An empty Market on a token venue matches any.
func SameInstrument(a, b Instrument) bool {
	if a.Venue != b.Venue {
		return false
	}
	if VenueOf(a.Venue).TokenPerOutcome {
		return a.Token == b.Token && (a.Market == "" || b.Market == "" || a.Market == b.Market)
	}
	return a.Market == b.Market && a.Outcome == b.Outcome
}

// predictionVenues lists the prediction venues' platform names, in
// Platforms order, for messages.
func predictionVenues() string {
	var s string
	for _, p := range Platforms {
		if VenueOf(p).Kind == Prediction {
			if s != "" {
				s += ", "
			}
			s += string(p)
		}
	}
	return s
}
