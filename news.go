package polybot

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// News arbitrage (StrategyNews) trades on headlines: a user's rule matches
// a headline and acts on the rule's markets, either buying a named outcome
// up to a price ("direct") or, when one venue has repriced since the
// headline and the other has not, buying the lagging venue toward the
// leader ("lag"). This file holds the domain: headlines, their sources and
// de-duplication keys, and the rules with their validation and matching.

// Headline is one news item as a source delivered it.
type Headline struct {
	ID string `json:"id"` // "h-" and the item's title key
	// Source is the id of the feed or webhook it came from; SourceName its
	// name as users see it.
	Source     string    `json:"source"`
	SourceName string    `json:"source_name"`
	Title      string    `json:"title"`
	Link       string    `json:"link"`
	Published  time.Time `json:"published"` // as the source dates it (zero: not dated)
	Received   time.Time `json:"received"`  // when PolyBot got it
}

// Bounds on news records.
const (
	MaxHeadlineTitle = 1000
	MaxHeadlineLink  = 2000
	maxNewsName      = 200
	maxNewsIDChars   = 64
	MaxRuleTerms     = 50  // keywords in one of a rule's lists
	maxRuleTerm      = 100 // characters in one keyword
	maxRuleRegex     = 500
	MaxRuleTargets   = 20
	MinFeedInterval  = 30 * time.Second
	MaxFeedInterval  = 24 * time.Hour
)

// NormalizeTitle is a title as de-duplication compares it: lower case,
// letters and digits only, words separated by one space. "Fed's Williams:
// room for a cut 'in the near term'" and "FED'S WILLIAMS — ROOM FOR A CUT
// IN THE NEAR TERM" are the same story.
func NormalizeTitle(title string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.ToLower(title) {
		switch {
		case r == '\'' || r == '’':
			// "Fed's" and "Feds" are one word.
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
		default:
			space = true
		}
	}
	return b.String()
}

// NormalizeLink is a link as de-duplication compares it: scheme and host
// in lower case, no "www.", no fragment, no tracking parameters (utm_*,
// fbclid, gclid), no trailing slash. An unparsable link is kept as given.
func NormalizeLink(link string) string {
	u, err := url.Parse(strings.TrimSpace(link))
	if err != nil || u.Host == "" {
		return strings.TrimSpace(link)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme == "http" {
		u.Scheme = "https"
	}
	u.Host = strings.TrimPrefix(strings.ToLower(u.Host), "www.")
	u.Fragment, u.RawFragment = "", ""
	q := u.Query()
	for k := range q {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "utm_") || lk == "fbclid" || lk == "gclid" {
			q.Del(k)
		}
	}
	u.RawQuery = q.Encode()
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u.String()
}

func newsKey(kind, s string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + s))
	return hex.EncodeToString(sum[:16])
}

// Keys are h's de-duplication keys: its normalised title's, and its
// normalised link's ("" when it has no link). The same story from two
// sources shares a title key; the same item polled again, or retitled,
// shares its link key. A headline is acted on once: when neither key was
// seen before.
func (h *Headline) Keys() (title, link string) {
	title = newsKey("title", NormalizeTitle(h.Title))
	if l := NormalizeLink(h.Link); l != "" {
		link = newsKey("link", l)
	}
	return title, link
}

// Validate checks a headline as a source (a feed or a webhook) delivers
// it: a title, a link that is http(s) if there is one, text the stores
// can hold.
func (h *Headline) Validate() error {
	v := Validation{}
	v.checkRequiredText("title", strings.TrimSpace(h.Title), MaxHeadlineTitle)
	v.checkText("link", h.Link, MaxHeadlineLink)
	if h.Link != "" {
		if u, err := url.Parse(h.Link); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			v.Add("link", "must be an http or https URL")
		}
	}
	v.checkText("source", h.Source, maxNewsIDChars)
	v.checkText("source_name", h.SourceName, maxNewsName)
	return v.Err()
}

// NewsFeed is an RSS or Atom feed PolyBot polls: a platform feed an admin
// lists (UserID NilID), which every user's rules see, or a user's own.
type NewsFeed struct {
	ID      string        `json:"id"`
	UserID  ID            `json:"-"`
	Name    string        `json:"name"`
	URL     string        `json:"url"`
	Every   time.Duration `json:"-"` // poll interval; JSON: every_seconds
	Enabled bool          `json:"enabled"`
	// ETag and LastModified are the validators of the last 200 answer,
	// sent back as If-None-Match and If-Modified-Since.
	ETag         string    `json:"-"`
	LastModified string    `json:"-"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// DefaultFeedInterval is how often a feed is polled unless it says.
const DefaultFeedInterval = time.Minute

// Validate checks a feed: a name, an http(s) URL, an interval within
// MinFeedInterval..MaxFeedInterval (zero means DefaultFeedInterval).
func (f *NewsFeed) Validate() error {
	v := Validation{}
	v.checkRequiredText("id", f.ID, maxNewsIDChars)
	v.checkRequiredText("name", f.Name, maxNewsName)
	v.checkRequiredText("url", f.URL, MaxHeadlineLink)
	if u, err := url.Parse(f.URL); f.URL != "" && (err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "") {
		v.Add("url", "must be an http or https URL")
	}
	if f.Every == 0 {
		f.Every = DefaultFeedInterval
	}
	if f.Every < MinFeedInterval || f.Every > MaxFeedInterval {
		v.Add("every_seconds", fmt.Sprintf("must be %d to %d", int(MinFeedInterval/time.Second), int(MaxFeedInterval/time.Second)))
	}
	return v.Err()
}

// News rule modes.
const (
	// NewsDirect buys the rule's outcome on its markets up to MaxPrice.
	NewsDirect = "direct"
	// NewsLag compares each of the rule's matched pairs across venues: when
	// one venue's price has moved by more than Threshold since the headline
	// (toward the rule's outcome) and the other's has not, it buys the
	// rule's outcome on the lagging venue, up to MaxPrice and while the
	// edge to the leader's price, after fees, clears the user's
	// min_profit_pct.
	NewsLag = "lag"
	// NewsEquity places the rule's equity order (Equity): a stock or ETF
	// on a broker venue (Alpaca), for example a rate-sensitive ETF on a
	// rate headline.
	NewsEquity = "equity"
)

// EquityOrder is a rule's order on a stock venue: its action (mode
// equity), or its hedge leg, placed once the rule's prediction-market
// trade has filled. A buy pays at most MaxPrice a share; a sell sells
// shares the tenant holds (never short), at no less than MaxPrice, up to
// Quantity. The risk gate treats it as directional: a share is never part
// of a complete set, and its cost counts in full against the limits.
type EquityOrder struct {
	Venue    Platform `json:"venue"`
	Symbol   string   `json:"symbol"`
	Side     string   `json:"side"`     // "buy" or "sell"
	Quantity Decimal  `json:"quantity"` // whole shares
	MaxPrice Decimal  `json:"max_price"`
}

// PricedPerShare reports whether inst is a share priced in dollars (any
// positive price: an Alpaca stock or ETF) rather than a contract paying $1,
// priced in (0, 1). Code that bounds prices, or nets YES and NO into
// sets, asks this first.
func PricedPerShare(inst Instrument) bool { return VenueOf(inst.Venue).Kind == Equity }

// Equity order sides.
const (
	EquityBuy  = "buy"
	EquitySell = "sell"
)

// Bounds on an equity order.
const maxEquitySymbol = 12

var maxEquityQuantity = NewDecimal(1_000_000, 0)

// Instrument is the order's instrument: {Venue, Market: Symbol}.
func (e *EquityOrder) Instrument() Instrument { return Instrument{Venue: e.Venue, Market: e.Symbol} }

// OrderSide is the order's side.
func (e *EquityOrder) OrderSide() Side {
	if e.Side == EquitySell {
		return Sell
	}
	return Buy
}

// check adds what is wrong with e to v under field ("equity", "hedge"):
// an Alpaca symbol, a side, whole shares, and a limit on the venue's tick
// (cents at $1 and above, hundredths of a cent below).
func (e *EquityOrder) check(v Validation, field string) {
	if e.Venue != Alpaca {
		v.Add(field+".venue", "must be alpaca")
	}
	switch {
	case e.Symbol == "":
		v.Add(field+".symbol", "is required")
	case len(e.Symbol) > maxEquitySymbol || !validSymbol(e.Symbol):
		v.Add(field+".symbol", fmt.Sprintf("must be a ticker in capitals such as TLT or BRK.B (letters, digits and '.', at most %d)", maxEquitySymbol))
	}
	if e.Side != EquityBuy && e.Side != EquitySell {
		v.Add(field+".side", "must be buy or sell")
	}
	switch {
	case e.Quantity.Sign() <= 0:
		v.Add(field+".quantity", "must be positive")
	case e.Quantity.Floor(One) != e.Quantity:
		v.Add(field+".quantity", "must be a whole number of shares")
	case e.Quantity.GreaterThan(maxEquityQuantity):
		v.Add(field+".quantity", "must be at most 1000000")
	}
	switch {
	case e.MaxPrice.Sign() <= 0:
		v.Add(field+".max_price", "must be positive")
	case e.MaxPrice.GreaterThan(maxEquityQuantity):
		v.Add(field+".max_price", "must be at most 1000000")
	case !e.MaxPrice.LessThan(One) && e.MaxPrice.Places() > 2:
		v.Add(field+".max_price", "must be in whole cents at $1 and above")
	case e.MaxPrice.Places() > 4:
		v.Add(field+".max_price", "must have at most 4 decimal places below $1")
	}
}

func validSymbol(s string) bool {
	for i, r := range s {
		switch {
		case r >= 'A' && r <= 'Z':
		case i > 0 && (r >= '0' && r <= '9' || r == '.'):
		default:
			return false
		}
	}
	return true
}

// NewsRule is a user's rule: which headlines it matches, and what it does
// then. Keywords match whole words or phrases of the normalised title
// (NormalizeTitle), so "cut" matches "Fed cut" but not "shortcut".
type NewsRule struct {
	ID      string `json:"id"`
	UserID  ID     `json:"-"`
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`

	// Match: every AllOf term, at least one AnyOf term (if any), no NoneOf
	// term; Regex (RE2, case-insensitive) if set; a source in Sources (feed
	// or webhook ids) if any are listed.
	AllOf   []string `json:"all_of"`
	AnyOf   []string `json:"any_of"`
	NoneOf  []string `json:"none_of"`
	Regex   string   `json:"regex,omitempty"`
	Sources []string `json:"sources,omitempty"`

	// Action.
	Mode string `json:"mode"`
	// Pairs are matched-market registry ids (lag needs them: a pair is the
	// same event on both venues); Markets single-venue markets (direct).
	Pairs   []string       `json:"pairs,omitempty"`
	Markets []BinaryMarket `json:"markets,omitempty"`
	Outcome Outcome        `json:"outcome"`
	// MaxPrice is the most paid per contract; MaxSize the most contracts
	// one headline buys on one market.
	MaxPrice Decimal `json:"max_price"`
	MaxSize  Decimal `json:"max_size"`
	// Window is how long after the headline's receipt the rule may act;
	// Cooldown how long after it acted it ignores further headlines.
	Window   time.Duration `json:"-"` // JSON: window_seconds
	Cooldown time.Duration `json:"-"` // JSON: cooldown_seconds
	// Threshold (lag) is how far the leading venue must have moved since
	// the headline, in price (0.05 = 5 cents), while the lagging one has
	// moved less than half of it.
	Threshold Decimal `json:"threshold"`
	// Exits of a position the rule opened: sell when the bid reaches entry
	// + TakeProfit (or, in lag mode, the leader's price: convergence), when
	// it falls to entry − StopLoss, or after TimeStop, whichever is first.
	// For an equity position (mode equity, or a hedge) TakeProfit and
	// StopLoss are fractions of the entry price (0.02: 2% above or below
	// it), since a share's price is not a probability.
	TakeProfit Decimal       `json:"take_profit"`
	StopLoss   Decimal       `json:"stop_loss"`
	TimeStop   time.Duration `json:"-"` // JSON: time_stop_seconds

	// Equity is the order of an equity rule (mode equity); Hedge, on a
	// direct or lag rule, an equity order placed after the rule's
	// prediction-market trade fills. Both are exited like the rule's own
	// position.
	Equity *EquityOrder `json:"equity,omitempty"`
	Hedge  *EquityOrder `json:"hedge,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Defaults for a rule's durations.
const (
	DefaultRuleWindow   = 5 * time.Minute
	DefaultRuleTimeStop = 30 * time.Minute
)

func checkTerms(v Validation, field string, terms []string) {
	if len(terms) > MaxRuleTerms {
		v.Add(field, fmt.Sprintf("must list at most %d terms", MaxRuleTerms))
		return
	}
	for i, t := range terms {
		f := field + "[" + strconv.Itoa(i) + "]"
		if NormalizeTitle(t) == "" {
			v.Add(f, "must contain a letter or a digit")
			continue
		}
		v.checkText(f, t, maxRuleTerm)
	}
}

func checkDuration(v Validation, field string, d, least, most time.Duration) {
	if d < least || d > most {
		v.Add(field, fmt.Sprintf("must be %d to %d", int(least/time.Second), int(most/time.Second)))
	}
}

// Validate checks a rule and fills in its defaults (a window, a time
// stop); every complaint names its JSON field.
func (r *NewsRule) Validate() error {
	v := Validation{}
	v.checkRequiredText("id", r.ID, maxNewsIDChars)
	v.checkRequiredText("name", r.Name, maxNewsName)
	checkTerms(v, "all_of", r.AllOf)
	checkTerms(v, "any_of", r.AnyOf)
	checkTerms(v, "none_of", r.NoneOf)
	if len(r.AllOf) == 0 && len(r.AnyOf) == 0 && r.Regex == "" {
		v.Add("all_of", "a rule needs at least one term in all_of or any_of, or a regex")
	}
	if r.Regex != "" {
		v.checkText("regex", r.Regex, maxRuleRegex)
		if _, err := regexp.Compile("(?i)" + r.Regex); err != nil {
			v.Add("regex", "is not a valid regular expression (RE2 syntax)")
		}
	}
	if len(r.Sources) > MaxRuleTerms {
		v.Add("sources", fmt.Sprintf("must list at most %d sources", MaxRuleTerms))
	}
	for i, s := range r.Sources {
		v.checkRequiredText("sources["+strconv.Itoa(i)+"]", s, maxNewsIDChars)
	}
	switch r.Mode {
	case NewsDirect:
		if len(r.Pairs)+len(r.Markets) == 0 {
			v.Add("markets", "a direct rule needs a market or a pair to buy on")
		}
	case NewsLag:
		if len(r.Pairs) == 0 {
			v.Add("pairs", "a lag rule needs a matched pair: the same event on both venues")
		}
		if len(r.Markets) > 0 {
			v.Add("markets", "a lag rule trades matched pairs only")
		}
		if r.Threshold.Sign() <= 0 || !r.Threshold.LessThan(One) {
			v.Add("threshold", "must be above 0 and below 1")
		}
	case NewsEquity:
		if r.Equity == nil {
			v.Add("equity", "an equity rule needs its order: venue, symbol, side, quantity and max_price")
		}
		if len(r.Pairs)+len(r.Markets) > 0 {
			v.Add("markets", "an equity rule trades its equity order only")
		}
		if r.Hedge != nil {
			v.Add("hedge", "an equity rule has no hedge leg (only direct and lag rules do)")
		}
	default:
		v.Add("mode", "must be direct, lag or equity")
	}
	if r.Mode != NewsEquity && r.Equity != nil {
		v.Add("equity", "only an equity rule has an equity order (a direct or lag rule may set a hedge)")
	}
	if r.Equity != nil {
		r.Equity.check(v, "equity")
	}
	if r.Hedge != nil && r.Mode != NewsEquity {
		r.Hedge.check(v, "hedge")
	}
	if len(r.Pairs)+len(r.Markets) > MaxRuleTargets {
		v.Add("markets", fmt.Sprintf("must list at most %d markets and pairs", MaxRuleTargets))
	}
	for i, p := range r.Pairs {
		v.checkRequiredText("pairs["+strconv.Itoa(i)+"]", p, maxNewsIDChars)
	}
	for i, m := range r.Markets {
		m.check(v, "markets["+strconv.Itoa(i)+"]")
	}
	if r.Outcome != Yes && r.Outcome != No {
		v.Add("outcome", "must be YES or NO")
	}
	// An equity rule's price and size are its order's; max_price and
	// max_size bound prediction contracts only.
	if r.Mode != NewsEquity {
		if r.MaxPrice.Sign() <= 0 || !r.MaxPrice.LessThan(One) {
			v.Add("max_price", "must be above 0 and below 1")
		}
		if r.MaxSize.Sign() <= 0 {
			v.Add("max_size", "must be positive")
		} else if r.MaxSize.GreaterThan(NewDecimal(1_000_000, 0)) {
			v.Add("max_size", "must be at most 1000000")
		}
	} else if r.MaxPrice.Sign() != 0 || r.MaxSize.Sign() != 0 {
		v.Add("max_price", "an equity rule's price and size are equity.max_price and equity.quantity; leave max_price and max_size at 0")
	}
	if r.Window == 0 {
		r.Window = DefaultRuleWindow
	}
	checkDuration(v, "window_seconds", r.Window, time.Second, time.Hour)
	checkDuration(v, "cooldown_seconds", r.Cooldown, 0, 24*time.Hour)
	if r.TimeStop == 0 {
		r.TimeStop = DefaultRuleTimeStop
	}
	checkDuration(v, "time_stop_seconds", r.TimeStop, time.Second, 7*24*time.Hour)
	for _, f := range []struct {
		name string
		d    Decimal
	}{{"take_profit", r.TakeProfit}, {"stop_loss", r.StopLoss}} {
		if f.d.Sign() < 0 || !f.d.LessThan(One) {
			v.Add(f.name, "must be at least 0 and below 1 (0: none)")
		}
	}
	return v.Err()
}

// hasTerm reports whether the normalised title t contains the term as
// whole words.
func hasTerm(t, term string) bool {
	n := NormalizeTitle(term)
	if n == "" {
		return false
	}
	return strings.Contains(" "+t+" ", " "+n+" ")
}

// Matches reports whether h matches the rule's terms, regex and sources
// (not whether the rule is enabled, in its cooldown or its markets
// tradable). A rule whose regex does not compile matches nothing (Validate
// refuses it).
func (r *NewsRule) Matches(h *Headline) bool {
	if len(r.Sources) > 0 && !slices.Contains(r.Sources, h.Source) {
		return false
	}
	t := NormalizeTitle(h.Title)
	for _, term := range r.AllOf {
		if !hasTerm(t, term) {
			return false
		}
	}
	if len(r.AnyOf) > 0 && !slices.ContainsFunc(r.AnyOf, func(term string) bool { return hasTerm(t, term) }) {
		return false
	}
	if slices.ContainsFunc(r.NoneOf, func(term string) bool { return hasTerm(t, term) }) {
		return false
	}
	if r.Regex != "" {
		re, err := regexp.Compile("(?i)" + r.Regex)
		if err != nil || !re.MatchString(h.Title) {
			return false
		}
	}
	return true
}
