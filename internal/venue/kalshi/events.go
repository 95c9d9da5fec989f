package kalshi

import (
	"strings"

	"github.com/polybot/polybot"
)

// MarketActive is the status of a market that trades; every other status
// (initialized, inactive, closed, determined, disputed, amended,
// finalized) accepts no orders.
const MarketActive = "active"

// OutcomeSetOf reads an event with its markets (Client.Event) as an
// outcome set (see polybot.VenueEvent.OutcomeSet): one outcome per market,
// labelled by its yes_sub_title (else its subtitle, else its title), with
// the market's YES and NO sides as instruments. Markets that do not trade
// (status other than active) are left out and returned in skipped.
//
// Kalshi's mutually_exclusive says that at most one market resolves YES,
// not that the markets cover every result: the set is Exhaustive when the
// event is mutually_exclusive and no market was left out, and an admin
// confirms that it is exhaustive (reading the event's rules) when
// approving it. It is never Approved here. Its id is "kalshi-<event
// ticker>" and its Event the event ticker.
func OutcomeSetOf(e *Event) (set *polybot.OutcomeSet, skipped []polybot.SkippedMarket, err error) {
	name := e.Title
	if name == "" {
		name = e.EventTicker
	}
	ve := polybot.VenueEvent{Venue: polybot.Kalshi, ID: "kalshi-" + e.EventTicker, Name: name, Event: e.EventTicker,
		ClaimsExhaustive: e.MutuallyExclusive}
	for _, m := range e.Markets {
		yes, no := Instruments(m.Ticker)
		em := polybot.EventMarket{Label: marketLabel(m), Market: polybot.BinaryMarket{Yes: yes, No: no}}
		if st := m.Status; st != MarketActive && st != "open" {
			em.NotTrading = "status " + st
			if st == "" {
				em.NotTrading = "no status"
			}
		}
		ve.Markets = append(ve.Markets, em)
	}
	return ve.OutcomeSet()
}

func marketLabel(m Market) string {
	for _, s := range []string{m.YesSubTitle, m.Subtitle, m.Title, m.Ticker} {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}
