package polymarket

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata/replay"
	pm "github.com/polybot/polybot/internal/venue/polymarket"
)

// event is a multi-outcome negRisk event on Gamma /events.
type event struct {
	id        int
	slug      string
	title     string
	negRiskID string
	augmented bool
	markets   []*market
}

// addEvent lists a recorded event: slug its set's id, title its name, its
// negRiskMarketID the set's Event when that is one (0x and 64 hex digits),
// else one derived from the set's id. Each outcome's own market is listed
// as a negRisk market with its outcome's label as groupItemTitle and the
// question id the neg-risk adapter gives the outcome (the market id with
// the outcome's index as its last byte).
func (s *Server) addEvent(rec *replay.EventRecording) error {
	set := &rec.Set
	if set.Venue != polybot.Polymarket {
		return polybot.FieldError("events", fmt.Sprintf("%s is a %s event, not a Polymarket one", set.ID, set.Venue))
	}
	if err := set.Validate(); err != nil {
		return fmt.Errorf("event %s: %w", set.ID, err)
	}
	e := &event{slug: set.ID, title: set.Name, negRiskID: set.Event, augmented: !set.Exhaustive}
	if !isNegRiskID(e.negRiskID) {
		e.negRiskID = fmt.Sprintf("0x%x", sha256Sum([]byte("negrisk/"+set.ID)))
	}
	ticks := map[string]polybot.Decimal{}
	for _, ev := range rec.Events {
		if _, ok := ticks[ev.Instrument.Token]; !ok && !ev.TickSize.IsZero() {
			ticks[ev.Instrument.Token] = ev.TickSize
		}
	}
	for i, o := range set.Outcomes {
		bm := o.Markets[0]
		cid := bm.Yes.Market
		if cid == "" {
			cid = fmt.Sprintf("0x%x", sha256Sum([]byte("market/"+set.ID+"/"+strconv.Itoa(i))))
		}
		m := Market{ConditionID: cid, Question: set.Name + ": " + o.Label + "?", Slug: set.ID + "-" + slugOf(o.Label),
			Tokens: [2]string{tokenID(bm.Yes.Token), tokenID(bm.No.Token)}, TickSize: ticks[bm.Yes.Token],
			NegRisk: true, NegRiskMarketID: e.negRiskID, QuestionID: e.negRiskID[:len(e.negRiskID)-2] + fmt.Sprintf("%02x", i),
			GroupItemTitle: o.Label, FeeSchedule: s.cfg.FeedFeeSchedule}
		if err := s.AddMarket(m); err != nil {
			return fmt.Errorf("event %s: %w", set.ID, err)
		}
		s.mu.Lock()
		e.markets = append(e.markets, s.markets[m.Tokens[0]])
		s.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e.id = len(s.events) + 1
	s.events = append(s.events, e)
	return nil
}

func isNegRiskID(s string) bool {
	if len(s) != 66 || !strings.HasPrefix(s, "0x") {
		return false
	}
	for _, c := range s[2:] {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

// slugOf is a label as a URL slug: lower-case letters and digits, the rest
// single dashes.
func slugOf(label string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(label) {
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			b.WriteRune(c)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// gammaMarket is m as the Gamma API describes it. Call with s.mu held.
func gammaMarket(m *market) pm.GammaMarket {
	return pm.GammaMarket{ID: strconv.Itoa(m.id), Question: m.Question, ConditionID: m.ConditionID, Slug: m.Slug,
		Outcomes: m.Outcomes[:], TokenIDs: m.Tokens[:], Active: true, NegRisk: m.NegRisk,
		NegRiskMarketID: m.NegRiskMarketID, QuestionID: m.QuestionID, GroupItemTitle: m.GroupItemTitle,
		TickSize: m.TickSize, MinOrderSize: m.MinOrderSize,
		FeesEnabled: !m.FeeSchedule.FeeFree(), FeeSchedule: m.FeeSchedule, RebateRate: m.RebateRate}
}

// gammaEvent is e as the Gamma API describes it. Call with s.mu held.
func gammaEvent(e *event) pm.GammaEvent {
	g := pm.GammaEvent{ID: strconv.Itoa(e.id), Ticker: e.slug, Slug: e.slug, Title: e.title, Active: true,
		NegRisk: true, EnableNegRisk: true, NegRiskMarketID: e.negRiskID, NegRiskAugmented: e.augmented}
	for _, m := range e.markets {
		g.Markets = append(g.Markets, gammaMarket(m))
	}
	return g
}

// gammaEvents is GET /events: filters id and slug (repeatable), active,
// closed, limit and offset. Every event the simulator lists is active and
// open.
func (s *Server) gammaEvents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	s.mu.Lock()
	out := []any{}
	for _, e := range s.events {
		switch {
		case len(q["id"]) > 0 && !slices.Contains(q["id"], strconv.Itoa(e.id)),
			len(q["slug"]) > 0 && !slices.Contains(q["slug"], e.slug),
			q.Get("closed") == "true", q.Get("active") == "false":
			continue
		}
		out = append(out, pm.GammaEventJSON(gammaEvent(e)))
	}
	s.mu.Unlock()
	if off, _ := strconv.Atoi(q.Get("offset")); off > 0 {
		out = out[min(off, len(out)):]
	}
	if lim, _ := strconv.Atoi(q.Get("limit")); lim > 0 && lim < len(out) {
		out = out[:lim]
	}
	return writeJSON(w, out)
}

// gammaEventOne is GET /events/{id} and GET /events/slug/{slug}.
func (s *Server) gammaEventOne(w http.ResponseWriter, r *http.Request) error {
	id, slug := r.PathValue("id"), r.PathValue("slug")
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.events {
		if (id != "" && strconv.Itoa(e.id) == id) || (slug != "" && e.slug == slug) {
			return writeJSON(w, pm.GammaEventJSON(gammaEvent(e)))
		}
	}
	return fail(http.StatusNotFound, "event not found")
}
