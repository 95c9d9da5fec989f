package web

import (
	"net/url"
	"strings"
	"time"

	"github.com/polybot/polybot"
)

// The Copy trading page: the wallets a user follows, each with its sizing,
// its P&L, and what the bot did with its recent trades (the leader's own
// trade beside our copy or the reason we skipped it); and the editor.

// CopyData is the Copy trading page's data.
type CopyData struct {
	// Enabled is the config's enable_copy_trading: leaders are followed
	// only when it is on.
	Enabled bool
	Leaders []LeaderRow
	Max     int // polybot.MaxLeaders
}

// LeaderRow is one leader with its P&L and recent records.
type LeaderRow struct {
	ID, Label, Address string
	Enabled            bool
	Sizing             string
	JSON               string // as GET /api/v1/copy/leaders/{id} answers
	PnL                []polybot.CopyModePnL
	Open               []polybot.CopyOpenTotal
	Copies             []CopyRow
}

// Name is the leader's label, or its shortened address.
func (l LeaderRow) Name() string {
	if l.Label != "" {
		return l.Label
	}
	return ShortAddress(l.Address)
}

// Short is the address as a list shows it: 0x5668…5839.
func (l LeaderRow) Short() string { return ShortAddress(l.Address) }

// Profile is the leader's public Polymarket profile.
func (l LeaderRow) Profile() string {
	return "https://polymarket.com/profile/" + url.PathEscape(l.Address)
}

// ShortAddress is 0x and the first and last four hex digits of a wallet.
func ShortAddress(a string) string {
	if len(a) < 12 {
		return a
	}
	return a[:6] + "…" + a[len(a)-4:]
}

// CopyRow is what the bot did with one of the leader's trades.
type CopyRow struct {
	At, LeaderTime                       time.Time
	Action, Reason, Title, Market, Token string
	LeaderSide                           string
	LeaderPrice, LeaderSize, Size, Price polybot.Decimal
	OpportunityID                        string
}

// NewCopyRow is a record's row.
func NewCopyRow(c *polybot.CopyRecord) CopyRow {
	return CopyRow{At: c.At, LeaderTime: c.LeaderTime, Action: c.Action, Reason: c.Reason, Title: c.Title,
		Market: c.Instrument.Market, Token: c.Instrument.Token, LeaderSide: c.LeaderSide.String(),
		LeaderPrice: c.LeaderPrice, LeaderSize: c.LeaderSize, Size: c.Size, Price: c.Price, OpportunityID: c.OpportunityID}
}

// What names the market of the leader's trade: its title, or its token.
func (c CopyRow) What() string {
	if c.Title != "" {
		return c.Title
	}
	if c.Token != "" {
		return short(c.Token)
	}
	return short(c.Market)
}

// Notional is the leader's price × size.
func (c CopyRow) Notional() polybot.Decimal { return c.LeaderPrice.Mul(c.LeaderSize) }

// Did says what we did in a few words: "bought 10 at 0.41", "skipped",
// "sold 4 at 0.55".
func (c CopyRow) Did() string {
	switch c.Action {
	case polybot.CopyCopied:
		return "bought " + Size(c.Size) + " at " + c.Price.String()
	case polybot.CopyExit:
		return "sold " + Size(c.Size) + " at " + c.Price.String()
	}
	return strings.ToLower(c.Action)
}

// Orders is the Orders page of the copy's opportunity.
func (c CopyRow) Orders() string {
	if c.OpportunityID == "" {
		return ""
	}
	return "/orders?opportunity=" + url.QueryEscape(c.OpportunityID)
}
