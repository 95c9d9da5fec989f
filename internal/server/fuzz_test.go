package server

import (
	"testing"
	"time"

	"github.com/polybot/polybot"
)

// Fuzz targets for every JSON request body: decode → validate must never
// panic and never answer an internal error, and whatever it accepts must be
// text both stores can hold. The seeds in testdata/fuzz/<FuzzName>/ run in
// every `go test`; a longer search is
//
//	go test ./internal/server -run '^$' -fuzz FuzzSignupRequest -fuzztime 60s

// fuzzRequest runs parse on every input and checks its answer. accepted
// returns the strings a successful parse would store.
func fuzzRequest[T any](f *testing.F, parse func([]byte) (*T, error), stored func(*T) []string) {
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := parse(body)
		if err != nil {
			if code := polybot.ErrorCode(err); code != polybot.EINVALID {
				t.Fatalf("%q: error code %q (%v), want %q", body, code, err, polybot.EINVALID)
			}
			if len(polybot.ErrorFields(err)) == 0 {
				t.Fatalf("%q: %v names no field", body, err)
			}
			return
		}
		if stored == nil {
			return
		}
		for _, s := range stored(v) {
			if msg := polybot.TextError(s, 0); msg != "" {
				t.Fatalf("%q: accepted %q, which %s", body, s, msg)
			}
		}
	})
}

func FuzzSignupRequest(f *testing.F) {
	fuzzRequest(f, decodeRequest[signupRequest], func(in *signupRequest) []string {
		return []string{in.Email, in.DisplayName}
	})
}

func FuzzLoginRequest(f *testing.F) {
	fuzzRequest(f, decodeRequest[loginRequest], nil)
}

func FuzzPasswordChangeRequest(f *testing.F) {
	fuzzRequest(f, decodeRequest[passwordChangeRequest], func(in *passwordChangeRequest) []string {
		return []string{in.NewPassword}
	})
}

func FuzzCreateTokenRequest(f *testing.F) {
	fuzzRequest(f, decodeRequest[createTokenRequest], func(in *createTokenRequest) []string { return []string{in.Name} })
}

func FuzzProfilePatch(f *testing.F) {
	fuzzRequest(f, decodeRequest[profilePatch], func(in *profilePatch) []string {
		if in.DisplayName == nil {
			return nil
		}
		return []string{*in.DisplayName}
	})
}

func FuzzConfigPatch(f *testing.F) {
	now := polybot.SystemClock()
	id := polybot.NewID()
	tier := polybot.DefaultTiers()[2]
	p := polybot.NewProfile(id, "fuzz@example.com", &tier, now)
	cur := polybot.DefaultConfig(id, now)
	fuzzRequest(f, func(b []byte) (*polybot.Config, error) { return cur.ApplyPatch(b, p) }, func(c *polybot.Config) []string {
		return append([]string{c.Timezone, string(c.AdvancedConfig)}, c.NotificationChannels...)
	})
}

func FuzzPutSecretRequest(f *testing.F) {
	fuzzRequest(f, decodeRequest[putSecretRequest], func(in *putSecretRequest) []string {
		extra, _ := additionalConfig(in.AdditionalConfig)
		return []string{in.Platform, string(extra)}
	})
}

func FuzzHaltRequest(f *testing.F) {
	fuzzRequest(f, decodeRequest[haltRequest], func(in *haltRequest) []string { return []string{in.State} })
}

func FuzzSetTierRequest(f *testing.F) {
	fuzzRequest(f, decodeRequest[setTierRequest], func(in *setTierRequest) []string { return []string{in.Tier} })
}

func FuzzSetRoleRequest(f *testing.F) {
	fuzzRequest(f, decodeRequest[setRoleRequest], func(in *setRoleRequest) []string { return []string{string(in.Role)} })
}

func FuzzSetDisabledRequest(f *testing.F) {
	fuzzRequest(f, decodeRequest[setDisabledRequest], nil)
}

func FuzzTierRequest(f *testing.F) {
	fuzzRequest(f, func(b []byte) (*polybot.Tier, error) { return parseTier(b, "free") }, func(t *polybot.Tier) []string {
		if t.MonthlyTradeLimit > polybot.MaxStoredInt || t.MaxPositions > polybot.MaxStoredInt {
			return []string{"\x00 a count past what the stores hold"}
		}
		return []string{t.Name, t.DisplayName}
	})
}

func FuzzMarketPairRequest(f *testing.F) {
	fuzzRequest(f, func(b []byte) (*polybot.MarketPair, error) { return parsePair(b, "fed-dec") }, func(m *polybot.MarketPair) []string {
		return []string{m.ID, m.Name, m.Legs[0].Market, m.Legs[0].Yes, m.Legs[0].No, m.Legs[1].Market, m.Legs[1].Yes, m.Legs[1].No, m.ResolutionNotes}
	})
}

// marketTexts are the strings a stored market holds.
func marketTexts(m polybot.BinaryMarket) []string {
	return []string{string(m.Yes.Venue), m.Yes.Market, m.Yes.Token, string(m.No.Venue), m.No.Market, m.No.Token}
}

func FuzzOutcomeSetRequest(f *testing.F) {
	fuzzRequest(f, func(b []byte) (*polybot.OutcomeSet, error) { return parseOutcomeSet(b, "fed-dec") }, func(s *polybot.OutcomeSet) []string {
		out := []string{s.ID, s.Name, string(s.Venue), s.Event, s.ResolutionNotes}
		for _, o := range s.Outcomes {
			out = append(out, o.Label, o.PairID)
			for _, m := range o.Markets {
				out = append(out, marketTexts(m)...)
			}
		}
		return out
	})
}

func FuzzRelationRequest(f *testing.F) {
	fuzzRequest(f, func(b []byte) (*polybot.Relation, error) { return parseRelation(b, "ladder") }, func(r *polybot.Relation) []string {
		return append(append([]string{r.ID, r.Name, r.Kind, r.SetA, r.SetB, r.ResolutionNotes}, marketTexts(r.A)...), marketTexts(r.B)...)
	})
}

// ruleTexts are the strings a stored rule holds.
func ruleTexts(r *polybot.NewsRule) []string {
	out := []string{r.ID, r.Name, r.Regex, r.Mode}
	for _, l := range [][]string{r.AllOf, r.AnyOf, r.NoneOf, r.Sources, r.Pairs} {
		out = append(out, l...)
	}
	for _, m := range r.Markets {
		out = append(out, marketTexts(m)...)
	}
	for _, d := range []time.Duration{r.Window, r.Cooldown, r.TimeStop} {
		if d%time.Second != 0 || d < 0 || d/time.Second > polybot.MaxStoredInt {
			out = append(out, "\x00 a duration the stores cannot hold")
		}
	}
	return out
}

func FuzzNewsRuleRequest(f *testing.F) {
	fuzzRequest(f, func(b []byte) (*polybot.NewsRule, error) { return parseNewsRule(b, "rule-fuzz") }, ruleTexts)
}

func FuzzNewsRuleTestRequest(f *testing.F) {
	type test struct {
		rule *polybot.NewsRule
		n    int
	}
	fuzzRequest(f, func(b []byte) (*test, error) {
		r, n, err := parseNewsRuleTest(b)
		if err != nil {
			return nil, err
		}
		return &test{r, n}, nil
	}, func(x *test) []string {
		if x.n < 1 || x.n > maxRuleTestN {
			return []string{"\x00 n out of range"}
		}
		return ruleTexts(x.rule)
	})
}

func FuzzNewsFeedRequest(f *testing.F) {
	fuzzRequest(f, func(b []byte) (*polybot.NewsFeed, error) { return parseNewsFeed(b, "feed-fuzz") }, func(x *polybot.NewsFeed) []string {
		out := []string{x.ID, x.Name, x.URL}
		if x.Every%time.Second != 0 || x.Every < polybot.MinFeedInterval || x.Every > polybot.MaxFeedInterval {
			out = append(out, "\x00 an interval out of range")
		}
		return out
	})
}

func FuzzNewsHookRequest(f *testing.F) {
	fuzzRequest(f, decodeRequest[newsHookRequest], func(in *newsHookRequest) []string { return []string{in.Name} })
}

func FuzzLeaderRequest(f *testing.F) {
	fuzzRequest(f, func(b []byte) (*polybot.Leader, error) { return parseLeader(b, "leader-fuzz") }, func(l *polybot.Leader) []string {
		out := []string{l.ID, l.Address, l.Label, l.Mode}
		if l.MaxAge%time.Second != 0 || l.MaxAge <= 0 || l.MaxAge/time.Second > polybot.MaxStoredInt {
			out = append(out, "\x00 a duration the stores cannot hold")
		}
		if polybot.NormalizeAddress(l.Address) != l.Address {
			out = append(out, "\x00 an address not normalised")
		}
		return out
	})
}
