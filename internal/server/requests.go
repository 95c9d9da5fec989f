package server

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/auth"
)

// Every JSON request body is one of these types. Each validates itself with
// the root package's rules, so decode → validate is one pure step
// (decodeRequest) that handlers call and the fuzz targets drive: it must
// never panic and never answer an internal error.

// validator is a request body that checks itself after decoding.
type validator interface{ validate() error }

// decodeRequest decodes body strictly into a new T and validates it.
func decodeRequest[T any, PT interface {
	*T
	validator
}](body []byte) (*T, error) {
	v := PT(new(T))
	if err := decodeStrict(body, v); err != nil {
		return nil, err
	}
	if err := v.validate(); err != nil {
		return nil, err
	}
	return (*T)(v), nil
}

// readRequest reads r's body and decodes it with decodeRequest.
func readRequest[T any, PT interface {
	*T
	validator
}](r *http.Request) (*T, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	return decodeRequest[T, PT](body)
}

// signupRequest is POST /api/v1/auth/signup. validate normalises Email.
type signupRequest struct {
	Email       string `json:"email"`
	Password    string `json:"password"`
	DisplayName string `json:"display_name,omitempty"`
}

func (in *signupRequest) validate() error {
	v := polybot.Validation{}
	email, err := polybot.NormalizeEmail(in.Email)
	if err != nil {
		v.Add("email", polybot.ErrorFields(err)["email"])
	} else {
		in.Email = email
	}
	if err := polybot.ValidateDisplayName(in.DisplayName); err != nil {
		v.Add("display_name", polybot.ErrorFields(err)["display_name"])
	} else {
		in.DisplayName = strings.TrimSpace(in.DisplayName)
	}
	if err := newPassword(in.Password, in.Email, in.DisplayName); err != nil {
		v.Add("password", polybot.ErrorFields(err)["password"])
	}
	return v.Err()
}

// newPassword checks a password being set: its form, then its strength,
// with the account's own words counted as known to an attacker.
func newPassword(pw string, userInputs ...string) error {
	if err := polybot.ValidatePassword(pw); err != nil {
		return err
	}
	var words []string
	for _, s := range userInputs {
		if s == "" {
			continue
		}
		words = append(words, s)
		if local, _, ok := strings.Cut(s, "@"); ok {
			words = append(words, local)
		}
	}
	return auth.CheckPasswordStrength(pw, words...)
}

// loginRequest is POST /api/v1/auth/login.
type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (in *loginRequest) validate() error {
	v := polybot.Validation{}
	if in.Email == "" {
		v.Add("email", "is required")
	}
	if in.Password == "" {
		v.Add("password", "is required")
	}
	return v.Err()
}

// passwordChangeRequest is PUT /api/v1/auth/password.
type passwordChangeRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

func (in *passwordChangeRequest) validate() error {
	v := polybot.Validation{}
	if in.CurrentPassword == "" {
		v.Add("current_password", "is required")
	}
	if err := polybot.ValidatePassword(in.NewPassword); err != nil {
		v.Add("new_password", polybot.ErrorFields(err)["password"])
	} else if in.NewPassword == in.CurrentPassword {
		v.Add("new_password", "must differ from the current password")
	}
	return v.Err()
}

// createTokenRequest is POST /api/v1/tokens. validate trims Name.
type createTokenRequest struct {
	Name          string `json:"name"`
	ExpiresInDays int    `json:"expires_in_days"`
}

func (in *createTokenRequest) validate() error {
	v := polybot.Validation{}
	in.Name = strings.TrimSpace(in.Name)
	if err := (&polybot.APIToken{Name: in.Name}).Validate(); err != nil {
		v.Add("name", polybot.ErrorFields(err)["name"])
	}
	if in.ExpiresInDays < 0 || in.ExpiresInDays > 366 {
		v.Add("expires_in_days", "must be between 0 (never) and 366")
	}
	return v.Err()
}

// profilePatch is PATCH /api/v1/profile.
type profilePatch struct {
	DisplayName         *string `json:"display_name"`
	AcceptTerms         *bool   `json:"accept_terms"`
	OnboardingCompleted *bool   `json:"onboarding_completed"`
}

func (in *profilePatch) validate() error {
	v := polybot.Validation{}
	if in.DisplayName != nil {
		if err := polybot.ValidateDisplayName(*in.DisplayName); err != nil {
			v.Add("display_name", polybot.ErrorFields(err)["display_name"])
		}
	}
	if in.AcceptTerms != nil && !*in.AcceptTerms {
		v.Add("accept_terms", "can only be true; terms, once accepted, stay accepted")
	}
	return v.Err()
}

// haltRequest is PUT /api/v1/bot/halt and the admin's halts.
type haltRequest struct {
	State string `json:"state"`
}

func (h *haltRequest) validate() error {
	if !polybot.ValidHalt(h.State) {
		return polybot.FieldError("state", `must be "active", "reducing_only" or "halted"`)
	}
	return nil
}

// setTierRequest is PUT /api/v1/admin/users/{id}/tier.
type setTierRequest struct {
	Tier string `json:"tier"`
}

func (in *setTierRequest) validate() error {
	if in.Tier == "" {
		return polybot.FieldError("tier", "is required")
	}
	return polybot.CheckTierName(in.Tier)
}

// setRoleRequest is PUT /api/v1/admin/users/{id}/role.
type setRoleRequest struct {
	Role polybot.Role `json:"role"`
}

func (in *setRoleRequest) validate() error {
	if !in.Role.Valid() {
		return polybot.FieldError("role", `must be "user" or "admin"`)
	}
	return nil
}

// setDisabledRequest is PUT /api/v1/admin/users/{id}/disabled.
type setDisabledRequest struct {
	Disabled *bool `json:"disabled"`
}

func (in *setDisabledRequest) validate() error {
	if in.Disabled == nil {
		return polybot.FieldError("disabled", "is required")
	}
	return nil
}

// tierRequest is PUT /api/v1/admin/tiers/{name}: the tier, named by the path.
type tierRequest polybot.Tier

func (t *tierRequest) validate() error { return nil } // after the path's name is set: see parseTier

// parseTier decodes an admin's tier edit and validates it under the
// path's name.
func parseTier(body []byte, name string) (*polybot.Tier, error) {
	t, err := decodeRequest[tierRequest](body)
	if err != nil {
		return nil, err
	}
	t.Name = name
	tier := (*polybot.Tier)(t)
	if err := tier.Validate(); err != nil {
		return nil, err
	}
	return tier, nil
}

// pairRequest is PUT /api/v1/admin/market-pairs/{id}: the pair's two
// legs (any two of Polymarket, Kalshi and IBKR), or, for a Polymarket–
// Kalshi pair, the polymarket_* and kalshi_ticker fields of the registry's
// first version. The stored pair's own fields (id, timestamps), which a
// client may echo back, are accepted and ignored.
type pairRequest struct {
	ID              string              `json:"id"`
	Name            string              `json:"name"`
	Legs            *[2]polybot.PairLeg `json:"legs"`
	PolymarketYes   string              `json:"polymarket_yes_token"`
	PolymarketNo    string              `json:"polymarket_no_token"`
	PolymarketMkt   string              `json:"polymarket_condition_id"`
	KalshiTicker    string              `json:"kalshi_ticker"`
	ResolutionNotes string              `json:"resolution_notes"`
	Approved        bool                `json:"approved"`
	CreatedAt       *time.Time          `json:"created_at"`
	UpdatedAt       *time.Time          `json:"updated_at"`
}

func (m *pairRequest) validate() error { return nil } // see parsePair

// legacyPairFields name a legacy request's fields in the legs' complaints.
var legacyPairFields = map[string]string{
	"legs[0].yes": "polymarket_yes_token", "legs[0].no": "polymarket_no_token",
	"legs[0].market": "polymarket_condition_id", "legs[1].market": "kalshi_ticker",
}

// parsePair decodes an admin's registry entry and validates it under the
// path's id; a complaint names the field the request used.
func parsePair(body []byte, id string) (*polybot.MarketPair, error) {
	m, err := decodeRequest[pairRequest](body)
	if err != nil {
		return nil, err
	}
	legacy := m.PolymarketYes != "" || m.PolymarketNo != "" || m.PolymarketMkt != "" || m.KalshiTicker != ""
	pair := &polybot.MarketPair{ID: id, Name: m.Name, ResolutionNotes: m.ResolutionNotes, Approved: m.Approved}
	switch {
	case legacy && m.Legs != nil:
		return nil, polybot.FieldError("legs", "give either legs or the polymarket_* and kalshi_ticker fields, not both")
	case legacy:
		pair.Legs = [2]polybot.PairLeg{polybot.PolymarketLeg(m.PolymarketMkt, m.PolymarketYes, m.PolymarketNo), polybot.KalshiLeg(m.KalshiTicker)}
	case m.Legs != nil:
		pair.Legs = *m.Legs
	default:
		return nil, polybot.FieldError("legs", "is required: the pair's market on each of its two venues")
	}
	if err := pair.Validate(); err != nil {
		if !legacy {
			return nil, err
		}
		v := polybot.Validation{}
		for f, msg := range polybot.ErrorFields(err) {
			if l, ok := legacyPairFields[f]; ok {
				f = l
			}
			v.Add(f, msg)
		}
		return nil, v.Err()
	}
	return pair, nil
}

// outcomeSetRequest is PUT /api/v1/admin/outcome-sets/{id}.
type outcomeSetRequest polybot.OutcomeSet

func (s *outcomeSetRequest) validate() error { return nil } // see parseOutcomeSet

// parseOutcomeSet decodes an admin's outcome set and validates it under
// the path's id.
func parseOutcomeSet(body []byte, id string) (*polybot.OutcomeSet, error) {
	s, err := decodeRequest[outcomeSetRequest](body)
	if err != nil {
		return nil, err
	}
	s.ID = id
	set := (*polybot.OutcomeSet)(s)
	if err := set.Validate(); err != nil {
		return nil, err
	}
	return set, nil
}

// relationRequest is PUT /api/v1/admin/relations/{id}.
type relationRequest polybot.Relation

func (r *relationRequest) validate() error { return nil } // see parseRelation

// parseRelation decodes an admin's relation and validates it under the
// path's id. Whether an equivalence's sets exist is the store's to say.
func parseRelation(body []byte, id string) (*polybot.Relation, error) {
	r, err := decodeRequest[relationRequest](body)
	if err != nil {
		return nil, err
	}
	r.ID = id
	rel := (*polybot.Relation)(r)
	if err := rel.Validate(); err != nil {
		return nil, err
	}
	return rel, nil
}

// --- news arbitrage ---

// newsRuleBody is a news rule as the API reads and writes it: durations
// in whole seconds (window_seconds, cooldown_seconds, time_stop_seconds)
// and the outcome as "YES" or "NO". created_at, updated_at and does are
// accepted and ignored, so a GET's answer can be PUT back.
type newsRuleBody struct {
	ID              string                 `json:"id"`
	Name            string                 `json:"name"`
	Enabled         *bool                  `json:"enabled"`
	AllOf           []string               `json:"all_of"`
	AnyOf           []string               `json:"any_of"`
	NoneOf          []string               `json:"none_of"`
	Regex           string                 `json:"regex"`
	Sources         []string               `json:"sources"`
	Mode            string                 `json:"mode"`
	Pairs           []string               `json:"pairs"`
	Markets         []polybot.BinaryMarket `json:"markets"`
	Outcome         string                 `json:"outcome"`
	MaxPrice        polybot.Decimal        `json:"max_price"`
	MaxSize         polybot.Decimal        `json:"max_size"`
	WindowSeconds   int64                  `json:"window_seconds"`
	CooldownSeconds int64                  `json:"cooldown_seconds"`
	Threshold       polybot.Decimal        `json:"threshold"`
	TakeProfit      polybot.Decimal        `json:"take_profit"`
	StopLoss        polybot.Decimal        `json:"stop_loss"`
	TimeStopSeconds int64                  `json:"time_stop_seconds"`
	Equity          *polybot.EquityOrder   `json:"equity"`
	Hedge           *polybot.EquityOrder   `json:"hedge"`
	CreatedAt       *time.Time             `json:"created_at,omitempty"`
	UpdatedAt       *time.Time             `json:"updated_at,omitempty"`
	Does            *string                `json:"does,omitempty"`
}

func (in *newsRuleBody) validate() error { return nil } // see rule

// maxRuleSeconds bounds a duration in seconds before it becomes a
// time.Duration (Validate holds each to its own, narrower range).
const maxRuleSeconds = 366 * 24 * 3600

// rule is the body as a polybot.NewsRule, validated (defaults filled in),
// with every complaint naming its JSON field. enabled is used when the
// body does not say.
func (in *newsRuleBody) rule(enabled bool) (*polybot.NewsRule, error) {
	v := polybot.Validation{}
	r := &polybot.NewsRule{ID: in.ID, Name: strings.TrimSpace(in.Name), Enabled: enabled, AllOf: in.AllOf, AnyOf: in.AnyOf,
		NoneOf: in.NoneOf, Regex: in.Regex, Sources: in.Sources, Mode: in.Mode, Pairs: in.Pairs, Markets: in.Markets,
		MaxPrice: in.MaxPrice, MaxSize: in.MaxSize, Threshold: in.Threshold, TakeProfit: in.TakeProfit, StopLoss: in.StopLoss,
		Equity: in.Equity, Hedge: in.Hedge}
	if in.Enabled != nil {
		r.Enabled = *in.Enabled
	}
	switch in.Outcome {
	case "":
		if in.Mode != polybot.NewsEquity { // an equity rule's order has no outcome
			v.Add("outcome", "must be YES or NO")
		}
	case "YES":
		r.Outcome = polybot.Yes
	case "NO":
		r.Outcome = polybot.No
	default:
		v.Add("outcome", "must be YES or NO")
	}
	for _, d := range []struct {
		field string
		secs  int64
		dst   *time.Duration
	}{{"window_seconds", in.WindowSeconds, &r.Window}, {"cooldown_seconds", in.CooldownSeconds, &r.Cooldown},
		{"time_stop_seconds", in.TimeStopSeconds, &r.TimeStop}} {
		if d.secs < 0 || d.secs > maxRuleSeconds {
			v.Add(d.field, "is out of range")
			continue
		}
		*d.dst = time.Duration(d.secs) * time.Second
	}
	if err := r.ValidateStored(); err != nil {
		for f, msg := range polybot.ErrorFields(err) {
			v.Add(f, msg)
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return r, nil
}

// newsRuleTestRequest is POST /api/v1/news/rules/test: a rule (saved or
// not) and how many of the latest headlines to replay it over.
type newsRuleTestRequest struct {
	Rule *newsRuleBody `json:"rule"`
	N    int           `json:"n"`
}

// Bounds on a rule test's replay.
const (
	defaultRuleTestN = 50
	maxRuleTestN     = 500
)

func (in *newsRuleTestRequest) validate() error {
	v := polybot.Validation{}
	if in.N == 0 {
		in.N = defaultRuleTestN
	}
	if in.N < 1 || in.N > maxRuleTestN {
		v.Add("n", "must be between 1 and "+strconv.Itoa(maxRuleTestN))
	}
	if in.Rule == nil {
		v.Add("rule", "is required")
	}
	return v.Err()
}

// newsRuleTestSavedRequest is POST /api/v1/news/rules/{id}/test (the body
// may be empty).
type newsRuleTestSavedRequest struct {
	N int `json:"n"`
}

func (in *newsRuleTestSavedRequest) validate() error {
	if in.N == 0 {
		in.N = defaultRuleTestN
	}
	if in.N < 1 || in.N > maxRuleTestN {
		return polybot.FieldError("n", "must be between 1 and "+strconv.Itoa(maxRuleTestN))
	}
	return nil
}

// newsFeedRequest is POST /api/v1/news/feeds and PUT
// /api/v1/admin/news/feeds/{id}: the feed's interval in whole seconds (0:
// the default), enabled unless it says.
type newsFeedRequest struct {
	Name         string `json:"name"`
	URL          string `json:"url"`
	EverySeconds int64  `json:"every_seconds"`
	Enabled      *bool  `json:"enabled"`
}

func (in *newsFeedRequest) validate() error { return nil } // see feed

// feed is the body as a validated polybot.NewsFeed with the given id.
func (in *newsFeedRequest) feed(id string) (*polybot.NewsFeed, error) {
	f := &polybot.NewsFeed{ID: id, Name: strings.TrimSpace(in.Name), URL: strings.TrimSpace(in.URL), Enabled: true}
	if in.Enabled != nil {
		f.Enabled = *in.Enabled
	}
	if in.EverySeconds < 0 || in.EverySeconds > maxRuleSeconds {
		return nil, polybot.FieldError("every_seconds", "is out of range")
	}
	f.Every = time.Duration(in.EverySeconds) * time.Second
	if err := f.ValidateStored(); err != nil {
		return nil, err
	}
	return f, nil
}

// newsHookRequest is POST /api/v1/news/hooks.
type newsHookRequest struct {
	Name string `json:"name"`
}

func (in *newsHookRequest) validate() error {
	in.Name = strings.TrimSpace(in.Name)
	err := (&polybot.NewsHook{ID: "x", Name: in.Name, Sealed: "x"}).Validate()
	if msg := polybot.ErrorFields(err)["name"]; msg != "" {
		return polybot.FieldError("name", msg)
	}
	return nil
}

// parseNewsRule decodes a rule body and validates it, under defaultID when
// the body names no id. A body without "enabled" is enabled.
func parseNewsRule(body []byte, defaultID string) (*polybot.NewsRule, error) {
	in, err := decodeRequest[newsRuleBody](body)
	if err != nil {
		return nil, err
	}
	if in.ID == "" {
		in.ID = defaultID
	}
	return in.rule(true)
}

// parseNewsRuleTest decodes a rule test: the rule (an id and a name are
// made up when it has none) and how many headlines to replay.
func parseNewsRuleTest(body []byte) (*polybot.NewsRule, int, error) {
	in, err := decodeRequest[newsRuleTestRequest](body)
	if err != nil {
		return nil, 0, err
	}
	if in.Rule.ID == "" {
		in.Rule.ID = "test"
	}
	if strings.TrimSpace(in.Rule.Name) == "" {
		in.Rule.Name = "Unsaved rule"
	}
	r, err := in.Rule.rule(true)
	return r, in.N, err
}

// parseNewsFeed decodes a feed body and validates it under id.
func parseNewsFeed(body []byte, id string) (*polybot.NewsFeed, error) {
	in, err := decodeRequest[newsFeedRequest](body)
	if err != nil {
		return nil, err
	}
	return in.feed(id)
}

// leaderBody is a copy-trading leader as the API reads and writes it: the
// staleness in seconds (max_age_seconds); what the API adds when it shows
// a leader (sizing, timestamps) may be sent back and is ignored.
type leaderBody struct {
	ID            string          `json:"id"`
	Address       string          `json:"address"`
	Label         string          `json:"label"`
	Enabled       *bool           `json:"enabled"`
	Mode          string          `json:"mode"`
	Multiplier    polybot.Decimal `json:"multiplier"`
	FixedUSD      polybot.Decimal `json:"fixed_usd"`
	BalancePct    polybot.Decimal `json:"balance_pct"`
	MaxTradeUSD   polybot.Decimal `json:"max_trade_usd"`
	MaxMarketUSD  polybot.Decimal `json:"max_market_usd"`
	MaxDayUSD     polybot.Decimal `json:"max_day_usd"`
	MinLeaderUSD  polybot.Decimal `json:"min_leader_usd"`
	PriceGuard    polybot.Decimal `json:"price_guard"`
	MaxAgeSeconds int64           `json:"max_age_seconds"`
	CreatedAt     *time.Time      `json:"created_at,omitempty"`
	UpdatedAt     *time.Time      `json:"updated_at,omitempty"`
	Sizing        *string         `json:"sizing,omitempty"`
}

func (in *leaderBody) validate() error { return nil } // see leader

// leader is the body as a polybot.Leader, validated (address normalised,
// defaults filled in), every complaint naming its JSON field. enabled is
// used when the body does not say.
func (in *leaderBody) leader(enabled bool) (*polybot.Leader, error) {
	l := &polybot.Leader{ID: in.ID, Address: in.Address, Label: strings.TrimSpace(in.Label), Enabled: enabled, Mode: in.Mode,
		Multiplier: in.Multiplier, FixedUSD: in.FixedUSD, BalancePct: in.BalancePct, MaxTradeUSD: in.MaxTradeUSD,
		MaxMarketUSD: in.MaxMarketUSD, MaxDayUSD: in.MaxDayUSD, MinLeaderUSD: in.MinLeaderUSD, PriceGuard: in.PriceGuard}
	if in.Enabled != nil {
		l.Enabled = *in.Enabled
	}
	v := polybot.Validation{}
	if in.MaxAgeSeconds < 0 || in.MaxAgeSeconds > int64(polybot.MaxCopyMaxAge/time.Second) {
		v.Add("max_age_seconds", "must be 1 to "+strconv.Itoa(int(polybot.MaxCopyMaxAge/time.Second)))
	} else {
		l.MaxAge = time.Duration(in.MaxAgeSeconds) * time.Second
	}
	if err := l.ValidateStored(); err != nil {
		for f, msg := range polybot.ErrorFields(err) {
			v.Add(f, msg)
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return l, nil
}

// parseLeader decodes a leader body and validates it, under defaultID
// when the body names no id. A body without "enabled" is enabled.
func parseLeader(body []byte, defaultID string) (*polybot.Leader, error) {
	in, err := decodeRequest[leaderBody](body)
	if err != nil {
		return nil, err
	}
	if in.ID == "" {
		in.ID = defaultID
	}
	return in.leader(true)
}
