package polymarket

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/polybot/polybot"
)

// GammaEvent is a Gamma event: a question with one or more markets. A
// multi-outcome event ("Fed decision in December?") lists one binary
// market per outcome; when it is negRisk, at most one of them resolves
// YES and a NO share of one converts into a YES share of every other.
type GammaEvent struct {
	ID     string
	Ticker string
	Slug   string
	Title  string
	Active bool
	Closed bool
	// NegRisk says the event's markets are one neg-risk market
	// (NegRiskMarketID): mutually exclusive outcomes, of which exactly
	// one resolves YES once the outcome universe is complete.
	// EnableNegRisk is the flag Polymarket documents augmented events
	// with.
	NegRisk         bool
	EnableNegRisk   bool
	NegRiskMarketID string
	// NegRiskAugmented marks an event deployed with named outcomes,
	// unnamed placeholder outcomes and an "Other": a placeholder can later
	// be clarified into a new named outcome, which takes it out of
	// "Other". Until resolution the event's outcome list, and what "Other"
	// means, can change, so its set is never exhaustive (Polymarket's own
	// advice is to trade only the named outcomes).
	NegRiskAugmented bool
	Markets          []GammaMarket
}

// gammaEventJSON is the wire form.
type gammaEventJSON struct {
	ID               string            `json:"id"`
	Ticker           string            `json:"ticker"`
	Slug             string            `json:"slug"`
	Title            string            `json:"title"`
	Active           bool              `json:"active"`
	Closed           bool              `json:"closed"`
	NegRisk          bool              `json:"negRisk"`
	EnableNegRisk    bool              `json:"enableNegRisk"`
	NegRiskMarketID  string            `json:"negRiskMarketID"`
	NegRiskAugmented bool              `json:"negRiskAugmented"`
	Markets          []gammaMarketJSON `json:"markets"`
}

func (j gammaEventJSON) event() (GammaEvent, error) {
	e := GammaEvent{ID: j.ID, Ticker: j.Ticker, Slug: j.Slug, Title: j.Title, Active: j.Active, Closed: j.Closed,
		NegRisk: j.NegRisk, EnableNegRisk: j.EnableNegRisk, NegRiskMarketID: j.NegRiskMarketID,
		NegRiskAugmented: j.NegRiskAugmented, Markets: make([]GammaMarket, 0, len(j.Markets))}
	for _, mj := range j.Markets {
		m, err := mj.market()
		if err != nil {
			return e, fmt.Errorf("polymarket: gamma event %s: %w", j.ID, err)
		}
		e.Markets = append(e.Markets, m)
	}
	return e, nil
}

// DecodeGammaEvent reads one event in the Gamma API's wire form (as GET
// /events/{id} answers it).
func DecodeGammaEvent(b []byte) (GammaEvent, error) {
	var j gammaEventJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return GammaEvent{}, fmt.Errorf("polymarket: gamma event: %w", err)
	}
	return j.event()
}

// GammaEventJSON returns e in the Gamma API's wire form, its markets
// nested (for the simulator).
func GammaEventJSON(e GammaEvent) any {
	markets := make([]any, len(e.Markets))
	for i, m := range e.Markets {
		markets[i] = GammaMarketJSON(m)
	}
	return map[string]any{
		"id": e.ID, "ticker": e.Ticker, "slug": e.Slug, "title": e.Title,
		"active": e.Active, "closed": e.Closed, "archived": false, "enableOrderBook": true,
		"negRisk": e.NegRisk, "enableNegRisk": e.EnableNegRisk, "negRiskMarketID": e.NegRiskMarketID,
		"negRiskAugmented": e.NegRiskAugmented, "markets": markets,
	}
}

// EventsQuery filters GammaEvents; zero fields are not sent.
type EventsQuery struct {
	IDs    []string
	Slugs  []string
	Active *bool
	Closed *bool
	Limit  int
	Offset int
}

// Events lists events with their markets from the Gamma API (GET
// /events).
func (c *Client) Events(ctx context.Context, q EventsQuery) ([]GammaEvent, error) {
	v := url.Values{}
	for _, id := range q.IDs {
		v.Add("id", id)
	}
	for _, s := range q.Slugs {
		v.Add("slug", s)
	}
	return gammaList(ctx, c, "/events", pageQuery(v, q.Active, q.Closed, q.Limit, q.Offset), gammaEventJSON.event)
}

// Event reads one event with its markets (GET /events/{id}).
func (c *Client) Event(ctx context.Context, id string) (*GammaEvent, error) {
	var j gammaEventJSON
	if err := c.do(ctx, request{method: http.MethodGet, base: c.cfg.GammaURL, path: "/events/" + url.PathEscape(id)}, &j); err != nil {
		return nil, err
	}
	e, err := j.event()
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// OutcomeSetOf reads a negRisk event as an outcome set (see
// polybot.VenueEvent.OutcomeSet): one outcome per market, labelled by its
// groupItemTitle (else its question), its YES and NO instruments the
// market's clobTokenIds in the order of its outcomes. Closed or inactive
// markets are left out and returned in skipped. The set is Exhaustive
// only when the event is negRisk, not augmented (see
// GammaEvent.NegRiskAugmented) and every market is active and open; it is
// never Approved. Its id is "polymarket-<event id>" and its Event the
// negRiskMarketID (the slug when there is none).
//
// An event that is not negRisk gives a set that is not exhaustive: the
// venue does not say its markets exclude each other (dated "by March",
// "by June" markets do not), and only an admin who read its rules may
// approve it as a set. A market that is not a Yes/No pair of tokens is an
// error naming it.
func OutcomeSetOf(e GammaEvent) (set *polybot.OutcomeSet, skipped []polybot.SkippedMarket, err error) {
	ref := e.NegRiskMarketID
	if ref == "" {
		ref = e.Slug
	}
	ve := polybot.VenueEvent{Venue: polybot.Polymarket, ID: "polymarket-" + e.ID, Name: e.Title, Event: ref,
		ClaimsExhaustive: e.NegRisk && !e.NegRiskAugmented}
	for _, m := range e.Markets {
		bm, err := binaryMarket(m)
		if err != nil {
			return nil, nil, polybot.Errorf(polybot.EINVALID, "polymarket event %s: %v", e.ID, err)
		}
		em := polybot.EventMarket{Label: strings.TrimSpace(m.GroupItemTitle), Market: bm}
		if em.Label == "" {
			em.Label = m.Question
		}
		switch {
		case m.Closed:
			em.NotTrading = "closed"
		case !m.Active:
			em.NotTrading = "inactive"
		}
		ve.Markets = append(ve.Markets, em)
	}
	return ve.OutcomeSet()
}

// binaryMarket is m's YES and NO tokens, in the order of its outcomes
// (Yes, No when it names none).
func binaryMarket(m GammaMarket) (polybot.BinaryMarket, error) {
	if len(m.TokenIDs) != 2 {
		return polybot.BinaryMarket{}, fmt.Errorf("market %s: clobTokenIds has %d token ids, want 2 (YES and NO)", m.ID, len(m.TokenIDs))
	}
	yes, no := 0, 1
	if len(m.Outcomes) != 0 {
		yes, no = -1, -1
		for i, o := range m.Outcomes {
			switch {
			case strings.EqualFold(o, "yes"):
				yes = i
			case strings.EqualFold(o, "no"):
				no = i
			}
		}
		if len(m.Outcomes) != 2 || yes < 0 || no < 0 {
			return polybot.BinaryMarket{}, fmt.Errorf("market %s: outcomes %q are not Yes and No", m.ID, m.Outcomes)
		}
	}
	if m.ConditionID == "" {
		return polybot.BinaryMarket{}, fmt.Errorf("market %s: no conditionId", m.ID)
	}
	inst := func(i int, o polybot.Outcome) polybot.Instrument {
		return polybot.Instrument{Venue: polybot.Polymarket, Market: m.ConditionID, Token: m.TokenIDs[i], Outcome: o}
	}
	return polybot.BinaryMarket{Yes: inst(yes, polybot.Yes), No: inst(no, polybot.No)}, nil
}
