package web

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/polybot/polybot"
)

// The News page: the headlines a user sees, what the user's rules did with
// them (and the orders they sent), the rules and their editor, the user's
// own feeds and signed webhooks.

// NewsData is the News page's data.
type NewsData struct {
	// Enabled is the config's enable_news_arbitrage: rules fire only when
	// it is on.
	Enabled   bool
	Headlines []HeadlineRow
	Fires     []FireRow
	Rules     []RuleRow
	Feeds     []FeedRow
	Hooks     []HookRow
	// Pairs and Sources are what the rule editor offers: the approved
	// matched pairs, and the sources a rule may name (the user's feeds and
	// hooks, and those of the headlines seen).
	Pairs   []Choice
	Sources []Choice
}

// Choice is one option of a list: a value and what a reader calls it.
type Choice struct {
	Value, Label string
}

// HeadlineRow is one headline as the page lists it.
type HeadlineRow struct {
	ID, Source, SourceName, Title, Link string
	Published, Received                 time.Time
}

// FireRow is what a rule did with a headline.
type FireRow struct {
	At                           time.Time
	RuleID, RuleName             string
	HeadlineTitle, HeadlineLink  string
	Action, OpportunityID, Error string
	LatencyMicros                int64
}

// Latency is the fire's receipt-to-order time in milliseconds ("1.834
// ms"), or "" when it sent no order.
func (f FireRow) Latency() string { return LatencyMS(f.LatencyMicros) }

// Orders is the Orders page of the fire's opportunity.
func (f FireRow) Orders() string {
	if f.OpportunityID == "" {
		return ""
	}
	return "/orders?opportunity=" + url.QueryEscape(f.OpportunityID)
}

// LatencyMS writes microseconds as milliseconds with three places: 1834 →
// "1.834 ms"; 0 → "".
func LatencyMS(micros int64) string {
	if micros <= 0 {
		return ""
	}
	frac := strconv.FormatInt(micros%1000, 10)
	return group(strconv.FormatInt(micros/1000, 10)) + "." + strings.Repeat("0", 3-len(frac)) + frac + " ms"
}

// RuleRow is one of the user's rules, with its JSON for the editor.
type RuleRow struct {
	ID, Name, Mode string
	Enabled        bool
	Matches        string // the match, in words
	Does           string // the action, in words
	JSON           string // as GET /api/v1/news/rules/{id} answers
}

// FeedRow is one of the user's own feeds.
type FeedRow struct {
	ID, Name, URL string
	EverySeconds  int64
	Enabled       bool
	Created       time.Time
}

// HookRow is one of the user's webhooks: never its secret.
type HookRow struct {
	ID, Name, URL string
	Created       time.Time
}

// RuleMatches says in words which headlines r matches.
func RuleMatches(r *polybot.NewsRule) string {
	var parts []string
	quote := func(terms []string) string {
		q := make([]string, len(terms))
		for i, t := range terms {
			q[i] = "“" + t + "”"
		}
		return strings.Join(q, ", ")
	}
	if len(r.AllOf) > 0 {
		parts = append(parts, "all of "+quote(r.AllOf))
	}
	if len(r.AnyOf) > 0 {
		parts = append(parts, "any of "+quote(r.AnyOf))
	}
	if len(r.NoneOf) > 0 {
		parts = append(parts, "none of "+quote(r.NoneOf))
	}
	if r.Regex != "" {
		parts = append(parts, "regex /"+r.Regex+"/")
	}
	if len(r.Sources) > 0 {
		parts = append(parts, "from "+strings.Join(r.Sources, ", "))
	}
	return strings.Join(parts, "; ")
}

// NewRuleRow is a rule's row; ruleJSON is its API form.
func NewRuleRow(r *polybot.NewsRule, ruleJSON string) RuleRow {
	return RuleRow{ID: r.ID, Name: r.Name, Mode: r.Mode, Enabled: r.Enabled, Matches: RuleMatches(r), Does: r.Describe(), JSON: ruleJSON}
}

// NewHeadlineRow is a headline's row.
func NewHeadlineRow(h *polybot.Headline) HeadlineRow {
	return HeadlineRow{ID: h.ID, Source: h.Source, SourceName: h.SourceName, Title: h.Title, Link: h.Link, Published: h.Published, Received: h.Received}
}

// NewFeedRow is a feed's row.
func NewFeedRow(f *polybot.NewsFeed) FeedRow {
	return FeedRow{ID: f.ID, Name: f.Name, URL: f.URL, EverySeconds: int64(f.Every / time.Second), Enabled: f.Enabled, Created: f.CreatedAt}
}

// NewsSources are the sources a rule may name: the user's feeds and
// hooks, then every other source of the headlines, each once, in that
// order.
func NewsSources(feeds []*polybot.NewsFeed, hooks []*polybot.NewsHook, hs []*polybot.Headline) []Choice {
	seen := map[string]bool{}
	var out []Choice
	add := func(id, name string) {
		if id == "" || seen[id] {
			return
		}
		seen[id] = true
		if name == "" {
			name = id
		}
		out = append(out, Choice{Value: id, Label: name})
	}
	for _, f := range feeds {
		add(f.ID, f.Name+" (your feed)")
	}
	for _, h := range hooks {
		add(h.ID, h.Name+" (your webhook)")
	}
	for _, h := range hs {
		add(h.Source, h.SourceName)
	}
	return out
}
