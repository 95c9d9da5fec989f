package polybot

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
)

// What the stores keep of copy trading besides the domain of copy.go:
// what the bot did with each leader trade it saw (CopyRecord), the
// wallets the shared poller follows (FollowedWallet), and a leader's P&L
// summed from the fills of its copies (CopyPnL, SumCopyPnL), which both
// stores compute with the one function here.

// MaxLeaders is how many wallets one user may follow.
const MaxLeaders = 20

// What the bot did with a leader's trade (CopyRecord.Action).
const (
	CopyCopied  = "copied"  // a buy mirrored (an order sent)
	CopySkipped = "skipped" // not copied; Reason says why
	CopyExit    = "exit"    // a sell or redemption mirrored on what the user holds from the leader
)

// maxCopyText bounds a record's reason; maxTradeKey a trade key (a
// transaction hash, "/", a token id).
const (
	maxCopyText = 1000
	maxTradeKey = 200
)

// ValidateStored is Validate, and what a store needs besides: the
// staleness in whole seconds.
func (l *Leader) ValidateStored() error {
	err := l.Validate()
	v := Validation{}
	if err != nil {
		for f, msg := range ErrorFields(err) {
			v.Add(f, msg)
		}
	}
	wholeSeconds(v, "max_age_seconds", l.MaxAge)
	return v.Err()
}

// CopyRecord is what one user's bot did with one trade of one of the
// user's leaders: copied it, skipped it (with the reason), or mirrored an
// exit. A store keeps one per (leader, trade key): the first word is kept.
type CopyRecord struct {
	LeaderID string `json:"leader_id"`
	TradeKey string `json:"trade_key"` // LeaderTrade.Key

	// The leader's trade.
	LeaderSide  Side       `json:"leader_side"`
	LeaderPrice Decimal    `json:"leader_price"`
	LeaderSize  Decimal    `json:"leader_size"`
	LeaderTime  time.Time  `json:"leader_time"`
	Instrument  Instrument `json:"instrument"` // the token the leader traded (may be zero)
	Title       string     `json:"title,omitempty"`

	// What we did.
	Action        string    `json:"action"` // CopyCopied, CopySkipped or CopyExit
	Reason        string    `json:"reason,omitempty"`
	OpportunityID string    `json:"opportunity_id,omitempty"` // CopyOpportunityID when orders were sent
	Size          Decimal   `json:"size"`                     // our size (0 when skipped)
	Price         Decimal   `json:"price"`                    // our limit price (0 when skipped)
	At            time.Time `json:"at"`
}

// Validate checks a record before a store writes it; every complaint names
// its JSON field.
func (c *CopyRecord) Validate() error {
	v := Validation{}
	v.checkRequiredText("leader_id", c.LeaderID, maxNewsIDChars)
	v.checkRequiredText("trade_key", c.TradeKey, maxTradeKey)
	if CheckSide(c.LeaderSide) != nil {
		v.Add("leader_side", "must be BUY or SELL")
	}
	for _, f := range []struct {
		name string
		d    Decimal
	}{{"leader_price", c.LeaderPrice}, {"leader_size", c.LeaderSize}, {"size", c.Size}, {"price", c.Price}} {
		if f.d.Sign() < 0 {
			v.Add(f.name, "must not be negative")
		}
	}
	if c.LeaderTime.IsZero() {
		v.Add("leader_time", "is required")
	}
	if c.Instrument != (Instrument{}) && CheckInstrument(c.Instrument) != nil {
		v.Add("instrument", "is not an instrument")
	}
	v.checkText("title", c.Title, maxCopyText)
	switch c.Action {
	case CopyCopied, CopySkipped, CopyExit:
	default:
		v.Add("action", "must be copied, skipped or exit")
	}
	if c.Action == CopySkipped && c.Reason == "" {
		v.Add("reason", "is required when a trade is skipped")
	}
	v.checkText("reason", c.Reason, maxCopyText)
	v.checkText("opportunity_id", c.OpportunityID, 128)
	return v.Err()
}

// WalletFollower is one user's leader following a wallet.
type WalletFollower struct {
	UserID   ID     `json:"user_id"`
	LeaderID string `json:"leader_id"`
}

// FollowedWallet is a wallet the shared poller polls once for all of its
// followers (AdminTx.FollowedWallets): every enabled leader with its
// address, grouped.
type FollowedWallet struct {
	Address string           `json:"address"`
	Leaders []WalletFollower `json:"leaders"`
}

// GroupFollowers groups (address, follower) rows, which must come ordered
// by address, into wallets: the one grouping both stores use.
func GroupFollowers(addresses []string, followers []WalletFollower) []FollowedWallet {
	out := []FollowedWallet{}
	for i, a := range addresses {
		if n := len(out); n == 0 || out[n-1].Address != a {
			out = append(out, FollowedWallet{Address: a})
		}
		w := &out[len(out)-1]
		w.Leaders = append(w.Leaders, followers[i])
	}
	return out
}

// CopyOpportunityID is the opportunity id of the orders copying trade t of
// leader leaderID: "copy-<leader id>-<16 hex digits of the trade key's
// SHA-256>". Every intent of a copy, and of its exits, carries it, so that
// a leader's P&L is the fills of those intents (IsCopyOpportunity).
func CopyOpportunityID(leaderID, tradeKey string) string {
	sum := sha256.Sum256([]byte(tradeKey))
	return "copy-" + leaderID + "-" + hex.EncodeToString(sum[:8])
}

// IsCopyOpportunity says whether opp names a copy of leaderID's trades:
// "copy-<leaderID>-" then a hash with no '-', so that leader "a" does not
// claim leader "a-b"'s copies.
func IsCopyOpportunity(leaderID, opp string) bool {
	rest, ok := strings.CutPrefix(opp, "copy-"+leaderID+"-")
	return ok && rest != "" && !strings.Contains(rest, "-")
}

// CopyPnL is what copying one leader made: realised P&L and fees of the
// fills of its copies (strategy copy_trading, opportunity
// CopyOpportunityID), per mode, and what is still held from it.
type CopyPnL struct {
	LeaderID string          `json:"leader_id"`
	Modes    []CopyModePnL   `json:"modes"` // dry_run then live; only modes with fills
	Open     []CopyOpenTotal `json:"open"`  // instruments with a non-zero net size, by mode then key
}

// CopyModePnL is one mode's totals; Net is Realized − Fees.
type CopyModePnL struct {
	Mode     ExecMode `json:"mode"`
	Realized Decimal  `json:"realized"`
	Fees     Decimal  `json:"fees"`
	Net      Decimal  `json:"net"`
	Fills    int      `json:"fills"`
}

// CopyOpenTotal is the net size held of one instrument from a leader's
// copies: bought less sold.
type CopyOpenTotal struct {
	Instrument Instrument `json:"instrument"`
	Mode       ExecMode   `json:"mode"`
	Size       Decimal    `json:"size"`
}

// CopyFill is a fill with the opportunity of its intent, as the stores
// read them for CopyPnL.
type CopyFill struct {
	Fill        *TradeFill
	Opportunity string
}

// SumCopyPnL sums the fills of leaderID's copies: those of strategy
// copy_trading whose intent's opportunity IsCopyOpportunity. Other fills
// are ignored, so a store may pass a superset.
func SumCopyPnL(leaderID string, fills []CopyFill) *CopyPnL {
	out := &CopyPnL{LeaderID: leaderID, Modes: []CopyModePnL{}, Open: []CopyOpenTotal{}}
	modes := map[ExecMode]*CopyModePnL{}
	type openKey struct {
		mode ExecMode
		key  string
	}
	open := map[openKey]*CopyOpenTotal{}
	for _, cf := range fills {
		f := cf.Fill
		if f == nil || f.Strategy != StrategyCopy || !IsCopyOpportunity(leaderID, cf.Opportunity) {
			continue
		}
		m := modes[f.Mode]
		if m == nil {
			m = &CopyModePnL{Mode: f.Mode}
			modes[f.Mode] = m
		}
		m.Realized = m.Realized.Add(f.RealizedPnL)
		m.Fees = m.Fees.Add(f.Fee)
		m.Fills++
		k := openKey{f.Mode, f.Instrument.Key()}
		o := open[k]
		if o == nil {
			o = &CopyOpenTotal{Instrument: f.Instrument, Mode: f.Mode}
			open[k] = o
		}
		if f.Side == Buy {
			o.Size = o.Size.Add(f.Size)
		} else {
			o.Size = o.Size.Sub(f.Size)
		}
	}
	for _, mode := range []ExecMode{DryRun, Live} {
		if m := modes[mode]; m != nil {
			m.Net = m.Realized.Sub(m.Fees)
			out.Modes = append(out.Modes, *m)
		}
	}
	for _, o := range open {
		if o.Size.Sign() != 0 {
			out.Open = append(out.Open, *o)
		}
	}
	slices.SortFunc(out.Open, func(a, b CopyOpenTotal) int {
		if c := strings.Compare(string(a.Mode), string(b.Mode)); c != 0 {
			return c
		}
		return strings.Compare(a.Instrument.Key(), b.Instrument.Key())
	})
	return out
}

// ErrTooManyLeaders is the refusal of a leader past MaxLeaders, as both
// stores return it.
func ErrTooManyLeaders() *Error {
	return &Error{Code: EFORBIDDEN,
		Message: fmt.Sprintf("you follow %d wallets, the most allowed; delete a leader first", MaxLeaders),
		Fields:  map[string]string{"leaders": fmt.Sprintf("at most %d", MaxLeaders)}}
}

// ErrLeaderAddressTaken is the refusal to follow an address the user's
// leader other already follows.
func ErrLeaderAddressTaken(other string) *Error {
	return &Error{Code: ECONFLICT,
		Message: "you already follow this wallet as leader " + other,
		Fields:  map[string]string{"address": "already followed by leader " + other}}
}

// CheckLeaderCursor checks a cursor before a store writes it.
func CheckLeaderCursor(leaderID string, at time.Time, lastKey string) error {
	v := Validation{}
	v.checkRequiredText("leader_id", leaderID, maxNewsIDChars)
	if at.IsZero() {
		v.Add("at", "is required")
	}
	v.checkText("last_key", lastKey, maxTradeKey)
	return v.Err()
}

// Describe says a leader's sizing and guards in words, for lists: "2× the
// leader's notional; at most $50.00 a trade; buys only within 2¢ of the
// leader's fill; trades older than 60 s ignored".
func (l *Leader) Describe() string {
	var parts []string
	switch l.Mode {
	case CopyProportional:
		parts = append(parts, contracts(l.Multiplier)+"× the leader's notional")
	case CopyFixed:
		parts = append(parts, FormatUSD(l.FixedUSD)+" a trade")
	case CopyBalancePct:
		parts = append(parts, contracts(l.BalancePct)+"% of your balance a trade")
	}
	for _, c := range []struct {
		d    Decimal
		what string
	}{{l.MaxTradeUSD, " a trade"}, {l.MaxMarketUSD, " a market"}, {l.MaxDayUSD, " a day"}} {
		if c.d.Sign() > 0 {
			parts = append(parts, "at most "+FormatUSD(c.d)+c.what)
		}
	}
	if l.MinLeaderUSD.Sign() > 0 {
		parts = append(parts, "leader trades under "+FormatUSD(l.MinLeaderUSD)+" ignored")
	}
	parts = append(parts, "buys only within "+contracts(l.PriceGuard.MulInt(100))+"¢ of the leader's fill")
	if l.MaxAge > 0 {
		parts = append(parts, "trades older than "+humanDuration(l.MaxAge)+" ignored")
	}
	return strings.Join(parts, "; ")
}
