package polybot

import (
	"strings"
	"testing"
	"time"
)

func TestTextErrorRefusesNULInvalidUTF8AndOverlongText(t *testing.T) {
	for _, tc := range []struct {
		name, s string
		max     int
		want    string
	}{
		{"plain", "Ada Lovelace", 100, ""},
		{"empty", "", 100, ""},
		{"multibyte counted as characters", strings.Repeat("é", 100), 100, ""},
		{"one character too many", strings.Repeat("é", 101), 100, "at most 100 characters"},
		{"NUL", "Ada\x00", 100, "NUL"},
		{"invalid UTF-8", "Ada\xff", 100, "UTF-8"},
		{"truncated sequence", "\xe2\x82", 100, "UTF-8"},
		{"no limit", strings.Repeat("x", 10000), 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := TextError(tc.s, tc.max)
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Fatalf("TextError(%q, %d) = %q, want %q", tc.s, tc.max, got, tc.want)
			}
			err := CheckText("f", tc.s, tc.max)
			if (err != nil) != (tc.want != "") {
				t.Fatalf("CheckText = %v", err)
			}
			if err != nil && ErrorFields(err)["f"] == "" {
				t.Fatalf("CheckText does not name the field: %v", err)
			}
		})
	}
}

func TestJSONTextErrorFindsNULEscapesOnly(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want bool
	}{
		{`{"a":"b"}`, false},
		{`{"a":"\u0000"}`, true},
		{`{"\u0000":1}`, true},
		{`{"a":"\\u0000"}`, false}, // an escaped backslash, then text
		{`{"a":"\\\u0000"}`, true},
		{"{\"a\":\"\xff\"}", true},
		{`{"a":"\u00001"}`, true},
	} {
		if got := JSONTextError([]byte(tc.raw)) != ""; got != tc.want {
			t.Errorf("JSONTextError(%s) refused = %v, want %v", tc.raw, got, tc.want)
		}
	}
}

func TestValidateNamesTheBadField(t *testing.T) {
	tier := func(mod func(*Tier)) error {
		tr := DefaultTiers()[0]
		mod(&tr)
		return tr.Validate()
	}
	pair := func(mod func(*MarketPair)) error {
		m := MarketPair{ID: "fed", Name: "Fed", Legs: [2]PairLeg{PolymarketLeg("", "1", "2"), KalshiLeg("K")}}
		mod(&m)
		return m.Validate()
	}
	for _, tc := range []struct {
		name  string
		err   error
		field string
	}{
		{"tier fine", tier(func(*Tier) {}), ""},
		{"tier limit at the int32 bound", tier(func(t *Tier) { t.MonthlyTradeLimit = MaxStoredInt }), ""},
		{"tier limit past the int32 bound", tier(func(t *Tier) { t.MonthlyTradeLimit = MaxStoredInt + 1 }), "monthly_trade_limit"},
		{"tier positions past the int32 bound", tier(func(t *Tier) { t.MaxPositions = 1 << 40 }), "max_positions"},
		{"tier display name NUL", tier(func(t *Tier) { t.DisplayName = "Fr\x00ee" }), "display_name"},
		{"tier display name invalid UTF-8", tier(func(t *Tier) { t.DisplayName = "\xc3" }), "display_name"},
		{"tier name NUL", tier(func(t *Tier) { t.Name = "free\x00" }), "name"},
		{"pair fine", pair(func(*MarketPair) {}), ""},
		{"pair id NUL", pair(func(m *MarketPair) { m.ID = "a\x00" }), "id"},
		{"pair name invalid UTF-8", pair(func(m *MarketPair) { m.Name = "\xff" }), "name"},
		{"pair yes NUL", pair(func(m *MarketPair) { m.Legs[0].Yes = "\x00" }), "legs[0].yes"},
		{"pair no NUL", pair(func(m *MarketPair) { m.Legs[0].No = "\x00" }), "legs[0].no"},
		{"pair condition NUL", pair(func(m *MarketPair) { m.Legs[0].Market = "\x00" }), "legs[0].market"},
		{"pair ticker NUL", pair(func(m *MarketPair) { m.Legs[1].Market = "K\x00" }), "legs[1].market"},
		{"pair one venue twice", pair(func(m *MarketPair) { m.Legs[1] = PolymarketLeg("", "3", "4") }), "legs[1].venue"},
		{"pair unknown venue", pair(func(m *MarketPair) { m.Legs[1].Venue = "alpaca" }), "legs[1].venue"},
		{"pair ibkr leg fine", pair(func(m *MarketPair) { m.Legs[1] = PairLeg{Venue: IBKR, Market: "FF", Yes: "101", No: "102"} }), ""},
		{"pair ibkr leg without contracts", pair(func(m *MarketPair) { m.Legs[1] = PairLeg{Venue: IBKR, Market: "FF"} }), "legs[1].yes"},
		{"pair kalshi leg with a token", pair(func(m *MarketPair) { m.Legs[1].Yes = "9" }), "legs[1].yes"},
		{"pair notes NUL", pair(func(m *MarketPair) { m.ResolutionNotes = "\x00" }), "resolution_notes"},
		{"profile display name NUL", (&Profile{DisplayName: "A\x00"}).Validate(), "display_name"},
		{"profile display name 100 runes", (&Profile{DisplayName: strings.Repeat("ж", 100)}).Validate(), ""},
		{"token name empty", (&APIToken{}).Validate(), "name"},
		{"token name NUL", (&APIToken{Name: "ci\x00"}).Validate(), "name"},
		{"token name 65 chars", (&APIToken{Name: strings.Repeat("t", 65)}).Validate(), "name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.field == "" {
				if tc.err != nil {
					t.Fatalf("want no error, got %v", tc.err)
				}
				return
			}
			if ErrorCode(tc.err) != EINVALID || ErrorFields(tc.err)[tc.field] == "" {
				t.Fatalf("want EINVALID naming %s, got %v", tc.field, tc.err)
			}
		})
	}
}

func TestValidatePasswordCountsCharactersNotBytes(t *testing.T) {
	for _, tc := range []struct {
		pw string
		ok bool
	}{
		{strings.Repeat("a", 11), false},
		{strings.Repeat("a", 12), true},
		{strings.Repeat("é", 6), false}, // 12 bytes, 6 characters
		{strings.Repeat("é", 11), false},
		{strings.Repeat("é", 12), true},
		{strings.Repeat("a", 256), true},
		{strings.Repeat("a", 257), false},
		{strings.Repeat("a", 12) + "\x00", false},
		{strings.Repeat("a", 12) + "\xff", false},
	} {
		if err := ValidatePassword(tc.pw); (err == nil) != tc.ok {
			t.Errorf("ValidatePassword(%q) = %v, want ok=%v", tc.pw, err, tc.ok)
		}
	}
}

func TestConfigRefusesNULInAdvancedConfig(t *testing.T) {
	c := DefaultConfig(NewID(), time.Date(2030, 1, 15, 0, 0, 0, 0, time.UTC))
	_, err := c.ApplyPatch([]byte(`{"advanced_config":{"k":"a\u0000b"}}`), nil)
	if ErrorFields(err)["advanced_config"] == "" {
		t.Fatalf("ApplyPatch(NUL in advanced_config) = %v, want a field error", err)
	}
}
