package polybot

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// What the stores keep of news arbitrage besides the domain of news.go:
// a user's signed webhooks (NewsHook), what a rule did with a headline
// (NewsFire), the checks both stores apply before they write, and the
// replay of a rule over past headlines ("test this rule").

// Per-user caps, enforced by the API.
const (
	MaxNewsRules = 100
	MaxNewsFeeds = 20
	MaxNewsHooks = 20
)

// maxFeedValidator bounds an ETag or Last-Modified value kept for a feed
// (a remote server chooses them).
const maxFeedValidator = 1000

// maxFireText bounds a fire's action and error.
const maxFireText = 1000

// NewsHook is a user's signed webhook, POST /api/v1/news/hooks/{id}: any
// source the user pays for can post headlines to it, signed with the
// hook's secret. The secret is shown once, when the hook is made; the
// store keeps it sealed under the tenant's data key (secrets.Box
// SealNewsHook), bound to the tenant and the hook's id.
type NewsHook struct {
	ID        string    `json:"id"`
	UserID    ID        `json:"-"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	// Sealed is the sealed signing secret. It never leaves the server.
	Sealed string `json:"-"`
}

// Validate checks a hook before it is stored: an id, a name, a sealed
// secret.
func (h *NewsHook) Validate() error {
	v := Validation{}
	v.checkRequiredText("id", h.ID, maxNewsIDChars)
	v.checkRequiredText("name", h.Name, maxNewsName)
	v.checkRequiredText("secret", h.Sealed, 4096)
	return v.Err()
}

// NewsFire is what one of a user's rules did with one headline: the
// engine records it when a rule matches, whether it traded or not.
type NewsFire struct {
	RuleID     string    `json:"rule_id"`
	HeadlineID string    `json:"headline_id"`
	At         time.Time `json:"at"`
	// Action says what the rule did, in a word or a short phrase
	// ("ordered", "cooldown", "no edge", "refused").
	Action string `json:"action"`
	// OpportunityID is the opportunity of the orders it sent (their
	// intents carry it), "" when it sent none.
	OpportunityID string `json:"opportunity_id,omitempty"`
	// LatencyMicros is the time from the headline's receipt to the first
	// order sent, in microseconds (0: no order).
	LatencyMicros int64  `json:"latency_micros"`
	Error         string `json:"error,omitempty"`
}

// Validate checks a fire before it is stored.
func (f *NewsFire) Validate() error {
	v := Validation{}
	v.checkRequiredText("rule_id", f.RuleID, maxNewsIDChars)
	v.checkRequiredText("headline_id", f.HeadlineID, maxNewsIDChars)
	v.checkRequiredText("action", f.Action, maxFireText)
	v.checkText("opportunity_id", f.OpportunityID, 128)
	v.checkText("error", f.Error, maxFireText)
	if f.LatencyMicros < 0 {
		v.Add("latency_micros", "must not be negative")
	}
	return v.Err()
}

// NewsPageLimit is a list's limit as both stores apply it: 100 when
// limit <= 0, at most 1000.
func NewsPageLimit(limit int) int {
	switch {
	case limit <= 0:
		return 100
	case limit > 1000:
		return 1000
	}
	return limit
}

// CheckNewsID checks the id of a rule, feed or hook given to a look-up or
// a delete (a path): text the stores can hold.
func CheckNewsID(id string) error { return CheckText("id", id, 0) }

// wholeSeconds adds a complaint unless d is a whole number of seconds:
// the stores keep durations in seconds.
func wholeSeconds(v Validation, field string, d time.Duration) {
	if d%time.Second != 0 {
		v.Add(field, "must be a whole number of seconds")
	}
}

// ValidateStored is Validate, and what a store needs besides: durations
// in whole seconds. Both stores call it before they write a rule.
func (r *NewsRule) ValidateStored() error {
	err := r.Validate()
	v := Validation{}
	if err != nil {
		for f, msg := range ErrorFields(err) {
			v.Add(f, msg)
		}
	}
	wholeSeconds(v, "window_seconds", r.Window)
	wholeSeconds(v, "cooldown_seconds", r.Cooldown)
	wholeSeconds(v, "time_stop_seconds", r.TimeStop)
	return v.Err()
}

// ValidateStored is Validate, and what a store needs besides: the poll
// interval in whole seconds, validators it can hold.
func (f *NewsFeed) ValidateStored() error {
	err := f.Validate()
	v := Validation{}
	if err != nil {
		for k, msg := range ErrorFields(err) {
			v.Add(k, msg)
		}
	}
	wholeSeconds(v, "every_seconds", f.Every)
	v.checkText("etag", f.ETag, maxFeedValidator)
	v.checkText("last_modified", f.LastModified, maxFeedValidator)
	return v.Err()
}

// CheckFeedValidators checks the ETag and Last-Modified of a feed's answer
// before a store keeps them.
func CheckFeedValidators(etag, lastModified string) error {
	v := Validation{}
	v.checkText("etag", etag, maxFeedValidator)
	v.checkText("last_modified", lastModified, maxFeedValidator)
	return v.Err()
}

// ValidateStored is Validate, and what a store needs besides: an id.
func (h *Headline) ValidateStored() error {
	err := h.Validate()
	v := Validation{}
	if err != nil {
		for k, msg := range ErrorFields(err) {
			v.Add(k, msg)
		}
	}
	v.checkRequiredText("id", h.ID, maxNewsIDChars)
	return v.Err()
}

// NewsTarget is one market a rule would act on: a matched pair (by its
// registry id; a lag rule buys on whichever venue lags, a direct rule on
// both), or a single market's contract of the rule's outcome.
type NewsTarget struct {
	Pair       string      `json:"pair,omitempty"`
	Instrument *Instrument `json:"instrument,omitempty"`
}

// NewsRuleHit is one headline a rule matched in a replay, and what the
// rule would have done with it.
type NewsRuleHit struct {
	Headline Headline `json:"headline"`
	// Fired is false for a match inside the cooldown of an earlier one:
	// the rule would have ignored it. Reason says so.
	Fired  bool   `json:"fired"`
	Reason string `json:"reason,omitempty"`
	// What it would have done.
	Mode     string       `json:"mode"`
	Outcome  string       `json:"outcome"`
	Targets  []NewsTarget `json:"targets"`
	MaxPrice Decimal      `json:"max_price"`
	MaxSize  Decimal      `json:"max_size"`
	// Does is the action in words.
	Does string `json:"does"`
}

// ReplayNewsRule runs r over headlines as the engine would have met them:
// in order of receipt, each story once (a headline whose title or link key
// was seen before is skipped, see Headline.Keys), honouring the rule's
// cooldown. It returns every match, oldest first, Fired false for those
// the cooldown of an earlier fire swallowed. Whether r is enabled, and
// whether its markets could have been traded at the time, are not
// considered. It is pure: the "test this rule" API call and anything else
// may use it.
func ReplayNewsRule(r *NewsRule, headlines []*Headline) []NewsRuleHit {
	hs := slices.Clone(headlines)
	slices.SortStableFunc(hs, func(a, b *Headline) int {
		if c := a.Received.Compare(b.Received); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	targets, does := r.action()
	seen := map[string]bool{}
	out := []NewsRuleHit{}
	var last time.Time
	fired := false
	for _, h := range hs {
		if h == nil {
			continue
		}
		tk, lk := h.Keys()
		dup := seen[tk] || (lk != "" && seen[lk])
		seen[tk] = true
		if lk != "" {
			seen[lk] = true
		}
		if dup || !r.Matches(h) {
			continue
		}
		hit := NewsRuleHit{Headline: *h, Fired: true, Mode: r.Mode, Outcome: r.Outcome.String(), Targets: targets,
			MaxPrice: r.MaxPrice, MaxSize: r.MaxSize, Does: does}
		if fired && h.Received.Before(last.Add(r.Cooldown)) {
			hit.Fired = false
			hit.Reason = fmt.Sprintf("in the cooldown until %s, %s after the fire at %s",
				last.Add(r.Cooldown).UTC().Format("2006-01-02 15:04:05 UTC"), humanDuration(r.Cooldown), last.UTC().Format("15:04:05"))
		} else {
			fired, last = true, h.Received
		}
		out = append(out, hit)
	}
	return out
}

// humanDuration says d as people do: "10 minutes", "1 hour 30 minutes",
// "45 seconds".
func humanDuration(d time.Duration) string {
	var parts []string
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}, {time.Second, "second"}} {
		n := d / u.unit
		d -= n * u.unit
		switch {
		case n == 1:
			parts = append(parts, "1 "+u.name)
		case n > 1:
			parts = append(parts, strconv.FormatInt(int64(n), 10)+" "+u.name+"s")
		}
	}
	if len(parts) == 0 {
		return "0 seconds"
	}
	return strings.Join(parts, " ")
}

// contracts is a size as a count reads: 100, 2.5.
func contracts(d Decimal) string {
	s := d.String()
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// percent says a fraction as a percentage: 0.025 → "2.5%".
func percent(f Decimal) string { return contracts(f.MulInt(100)) + "%" }

// describe says the order in words.
func (e *EquityOrder) describe() string {
	if e.Side == EquitySell {
		return fmt.Sprintf("Sell up to %s %s held on %s at %s or more", contracts(e.Quantity), e.Symbol, PlatformName(e.Venue), e.MaxPrice)
	}
	return fmt.Sprintf("Buy %s %s on %s at up to %s", contracts(e.Quantity), e.Symbol, PlatformName(e.Venue), e.MaxPrice)
}

// Describe says in words what r does when it fires.
func (r *NewsRule) Describe() string {
	_, does := r.action()
	return does
}

// action is what r does when it fires: its targets, and that in words.
func (r *NewsRule) action() ([]NewsTarget, string) {
	targets := []NewsTarget{}
	for _, p := range r.Pairs {
		targets = append(targets, NewsTarget{Pair: p})
	}
	for _, m := range r.Markets {
		inst := m.Yes
		if r.Outcome == No {
			inst = m.No
		}
		targets = append(targets, NewsTarget{Instrument: &inst})
	}
	n := len(targets)
	where := fmt.Sprintf("%d markets", n)
	if n == 1 {
		where = "1 market"
	}
	var does string
	switch r.Mode {
	case NewsEquity:
		if r.Equity != nil {
			inst := r.Equity.Instrument()
			targets = append(targets, NewsTarget{Instrument: &inst})
			does = r.Equity.describe()
		}
	case NewsLag:
		does = fmt.Sprintf("On each of %d matched pairs, once one venue has moved %s toward %s and the other has not: buy %s on the lagging venue at up to %s, at most %s contracts",
			len(r.Pairs), r.Threshold, r.Outcome, r.Outcome, r.MaxPrice, contracts(r.MaxSize))
	default:
		does = fmt.Sprintf("Buy %s on %s at up to %s, at most %s contracts each", r.Outcome, where, r.MaxPrice, contracts(r.MaxSize))
	}
	if r.Hedge != nil && r.Mode != NewsEquity {
		does += "; once that fills, hedge: " + r.Hedge.describe()
	}
	var exits []string
	tp, sl := r.TakeProfit.String(), r.StopLoss.String()
	if r.Mode == NewsEquity {
		tp, sl = percent(r.TakeProfit), percent(r.StopLoss)
	}
	if r.TakeProfit.Sign() > 0 {
		exits = append(exits, "take profit +"+tp)
	}
	if r.StopLoss.Sign() > 0 {
		exits = append(exits, "stop loss −"+sl)
	}
	if r.TimeStop > 0 {
		exits = append(exits, "time stop after "+humanDuration(r.TimeStop))
	}
	if len(exits) > 0 {
		does += "; exit on " + strings.Join(exits, ", ")
	}
	return targets, does
}

// EquityColumns are r's equity order and hedge as both stores keep them:
// a JSON object each, or "null".
func (r *NewsRule) EquityColumns() (equity, hedge string, err error) {
	e, err := json.Marshal(r.Equity)
	if err != nil {
		return "", "", err
	}
	h, err := json.Marshal(r.Hedge)
	return string(e), string(h), err
}

// SetEquityColumns reads r's equity order and hedge back from their
// stored JSON (see EquityColumns).
func (r *NewsRule) SetEquityColumns(equity, hedge string) error {
	r.Equity, r.Hedge = nil, nil
	if err := json.Unmarshal([]byte(equity), &r.Equity); err != nil {
		return fmt.Errorf("news rule %s: equity: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(hedge), &r.Hedge); err != nil {
		return fmt.Errorf("news rule %s: hedge: %w", r.ID, err)
	}
	return nil
}
