package ibkr

import (
	"fmt"
	"time"

	"github.com/polybot/polybot"
)

// MarketConfig is one ForecastEx market: an underlying (artificial) conid
// and its questions, each a YES and a NO contract.
type MarketConfig struct {
	UnderlyingConid int64            `json:"underlying_conid"`
	ProductConid    int64            `json:"product_conid"`
	Name            string           `json:"name"`   // "US Fed Funds Target Rate"
	Symbol          string           `json:"symbol"` // "FF"
	CategoryID      string           `json:"category_id"`
	Category        string           `json:"category"`
	Contracts       []ContractConfig `json:"contracts"`
}

// ContractConfig is one question: "Above <Strike>%" at Expiration.
type ContractConfig struct {
	YesConid   int64           `json:"yes_conid"`
	NoConid    int64           `json:"no_conid"`
	Strike     polybot.Decimal `json:"strike"`
	Expiration string          `json:"expiration"` // YYYYMMDD
	Question   string          `json:"question"`
}

type market struct {
	cfg MarketConfig
}

// contract is one tradable conid: a stock, or one side of a question.
type contract struct {
	conid   int64
	symbol  string
	secType string // STK | OPT
	company string
	// Event contracts:
	market *market
	q      ContractConfig
	yes    bool
	pair   int64 // the other side's conid
}

// FedDec2025 is the FOMC meeting of 9–10 December 2025.
const FedDec2025 = "20251210"

// FedMarket is the simulator's Fed funds target rate market. The market's
// name, symbol, underlying conid (658663572), product conid and the
// January 2027 "Above 3.125%" question (conids 722489372 / 722489376) are
// those of IBKR's recorded answers (internal/venue/ibkr/testdata,
// GET-market.json and GET-contract-details.json). The December 2025
// questions and their conids (9000000xx) are the simulator's own: no
// recorded answer lists them. Their strikes are the upper bound of the
// target range after each outcome of that meeting (4.00% before it): above
// 3.875% means no cut (a hold, or a hike), above 3.625% at most a 25 bp cut.
func FedMarket() MarketConfig {
	q := func(yes int64, strike, exp, label string) ContractConfig {
		return ContractConfig{YesConid: yes, NoConid: yes + 1, Strike: polybot.MustDecimal(strike), Expiration: exp,
			Question: fmt.Sprintf("Will the US Fed Funds Target Rate be set above %s%% at the FOMC meeting ending %s?", strike, label)}
	}
	return MarketConfig{UnderlyingConid: 658663572, ProductConid: 658663579, Name: "US Fed Funds Target Rate", Symbol: "FF",
		CategoryID: "g1003", Category: "Fed Policy",
		Contracts: []ContractConfig{
			q(900000011, "3.375", FedDec2025, "December 10, 2025"),
			q(900000021, "3.625", FedDec2025, "December 10, 2025"),
			q(900000031, "3.875", FedDec2025, "December 10, 2025"),
			q(900000041, "4.125", FedDec2025, "December 10, 2025"),
			{YesConid: 722489372, NoConid: 722489376, Strike: polybot.MustDecimal("3.125"), Expiration: "20270127",
				Question: "Will the US Fed Funds Target Rate be set above 3.125% at the FOMC meeting ending January 27, 2027?"},
		}}
}

// FedHoldConid is the YES conid of the December 2025 "above 3.875%"
// question: YES pays when the Fed does not cut (the hold outcome of
// Kalshi's and Polymarket's December 2025 decision markets, plus a hike,
// which those markets priced at about zero).
const FedHoldConid = 900000031

// AddMarket lists a ForecastEx market and its contracts.
func (s *Server) AddMarket(mc MarketConfig) error {
	if mc.UnderlyingConid <= 0 || mc.Symbol == "" || len(mc.Contracts) == 0 {
		return polybot.FieldError("market", "needs an underlying conid, a symbol and contracts")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := &market{cfg: mc}
	for _, c := range mc.Contracts {
		if c.YesConid <= 0 || c.NoConid <= 0 || c.YesConid == c.NoConid {
			return polybot.FieldError("contracts", "each needs distinct positive YES and NO conids")
		}
		if _, err := time.Parse("20060102", c.Expiration); err != nil {
			return polybot.FieldError("expiration", "must be YYYYMMDD")
		}
		for _, id := range []int64{c.YesConid, c.NoConid} {
			if _, ok := s.contracts[id]; ok {
				return polybot.Errorf(polybot.ECONFLICT, "conid %d is already listed", id)
			}
		}
		s.contracts[c.YesConid] = &contract{conid: c.YesConid, symbol: mc.Symbol, secType: "OPT", market: m, q: c, yes: true, pair: c.NoConid}
		s.contracts[c.NoConid] = &contract{conid: c.NoConid, symbol: mc.Symbol, secType: "OPT", market: m, q: c, pair: c.YesConid}
	}
	s.markets = append(s.markets, m)
	return nil
}

func (c *contract) side() string {
	if c.yes {
		return "Y"
	}
	return "N"
}

func (c *contract) right() string {
	if c.yes {
		return "C"
	}
	return "P"
}

func (c *contract) strikeLabel() string { return "Above " + c.q.Strike.String() + "%" }

func (c *contract) expiryLabel() string {
	t, _ := time.Parse("20060102", c.q.Expiration)
	return t.Format("January 2, 2006")
}

func (c *contract) expiry() time.Time {
	t, _ := time.Parse("20060102", c.q.Expiration)
	return t
}

func (c *contract) description() string {
	if c.secType == "STK" {
		return c.symbol
	}
	return fmt.Sprintf("%s %s %s %s", c.symbol, c.expiry().Format("Jan02'06"), c.q.Strike, map[bool]string{true: "YES", false: "NO"}[c.yes])
}

// SyntheticFedBooks are starting books for FedMarket's December 2025
// questions, for demos. They are SYNTHETIC: made up for the simulator, not
// recorded ForecastEx quotes (no public ForecastEx recording was found).
// Each question's YES and NO books mirror each other (NO bid = 1 − YES ask)
// with a two-cent spread and 200 contracts a level, and the YES prices fall
// as the strike rises, as a threshold ladder must.
func SyntheticFedBooks() []BookConfig {
	yesBids := map[int64]string{900000011: "0.97", 900000021: "0.88", 900000031: "0.40", 900000041: "0.02"}
	var out []BookConfig
	size := polybot.NewDecimal(200, 0)
	two := polybot.NewDecimal(2, 2)
	for yes, bid := range yesBids {
		b := polybot.MustDecimal(bid)
		ask := b.Add(two)
		out = append(out,
			BookConfig{Conid: yes, Bids: []polybot.Level{{Price: b, Size: size}}, Asks: []polybot.Level{{Price: ask, Size: size}}},
			BookConfig{Conid: yes + 1, Bids: []polybot.Level{{Price: polybot.One.Sub(ask), Size: size}},
				Asks: []polybot.Level{{Price: polybot.One.Sub(b), Size: size}}})
	}
	return out
}
