package polybot

import (
	"fmt"
	"math"
	"unicode/utf8"
)

// Input rules every store and every handler share, so that bad input is the
// same EINVALID field error on SQLite and PostgreSQL (which refuses a NUL
// byte or invalid UTF-8 in text with SQLSTATE 22021, while SQLite would
// store it).

// MaxStoredInt is the largest integer both stores hold in an integer
// column (PostgreSQL INTEGER is 32 bits).
const MaxStoredInt = math.MaxInt32

// TextError describes what is wrong with s as stored text of at most max
// characters (runes; max <= 0: no length limit), or "" when nothing is.
// Text must be valid UTF-8 without NUL bytes.
func TextError(s string, max int) string {
	if !utf8.ValidString(s) {
		return "must be valid UTF-8 text"
	}
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return "must not contain a NUL byte"
		}
	}
	if max > 0 && utf8.RuneCountInString(s) > max {
		return fmt.Sprintf("must be at most %d characters", max)
	}
	return ""
}

// CheckText returns a field error naming field when s is not valid text of
// at most max characters (see TextError).
func CheckText(field, s string, max int) error {
	if msg := TextError(s, max); msg != "" {
		return FieldError(field, msg)
	}
	return nil
}

// checkText adds TextError's complaint about s to v under field.
func (v Validation) checkText(field, s string, max int) {
	if msg := TextError(s, max); msg != "" {
		v.Add(field, msg)
	}
}

// checkRequiredText is checkText for a field that must not be empty.
func (v Validation) checkRequiredText(field, s string, max int) {
	if s == "" {
		v.Add(field, fmt.Sprintf("must be 1-%d characters", max))
		return
	}
	v.checkText(field, s, max)
}

// checkCount adds a complaint unless 0 <= n <= MaxStoredInt.
func (v Validation) checkCount(field string, n int) {
	switch {
	case n < 0:
		v.Add(field, "must not be negative")
	case n > MaxStoredInt:
		v.Add(field, fmt.Sprintf("must be at most %d", MaxStoredInt))
	}
}

// MaxDisplayNameChars bounds a profile's display name.
const MaxDisplayNameChars = 100

// MaxTokenNameChars bounds an API token's name.
const MaxTokenNameChars = 64

// ValidateDisplayName checks a user's display name (it may be empty).
func ValidateDisplayName(s string) error { return CheckText("display_name", s, MaxDisplayNameChars) }

// Validate checks the user-editable fields of a profile, as UpdateProfile
// and CreateUser store them.
func (p *Profile) Validate() error { return ValidateDisplayName(p.DisplayName) }

// Validate checks a token before it is stored: a name of 1-64 characters.
func (t *APIToken) Validate() error {
	v := Validation{}
	v.checkRequiredText("name", t.Name, MaxTokenNameChars)
	return v.Err()
}

// CheckMarketPairID checks a market pair id given to a look-up or a
// delete (a path): text the stores can hold.
func CheckMarketPairID(id string) error { return CheckText("id", id, 0) }

// CheckOverlapID checks the id of an outcome set or a relation given to a
// look-up or a delete (a path): text the stores can hold.
func CheckOverlapID(id string) error { return CheckText("id", id, 0) }

// CheckTierName checks a tier name given to a look-up: text the stores can
// hold. (Tier.Validate holds a new tier's name to a stricter form.)
func CheckTierName(name string) error { return CheckText("tier", name, 0) }

// JSONTextError is TextError for a JSON document stored as JSON (jsonb on
// PostgreSQL, which refuses invalid UTF-8 and the escape \u0000 in any key
// or string): "" when raw is fine.
func JSONTextError(raw []byte) string {
	if !utf8.Valid(raw) {
		return "must be valid UTF-8 text"
	}
	// A NUL can only be written as an escape inside a JSON string.
	for i := 0; i+5 < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if string(raw[i+1:i+6]) == "u0000" {
			return `must not contain a NUL character (\u0000)`
		}
		i++ // skip the escaped character, so `\\u0000` is not read as an escape
	}
	return ""
}

// CheckStorable checks only what a store needs of a config's text: a time
// zone name, channels and advanced_config it can hold (Validate checks
// everything, against the plan too). UpdateConfig and CreateUser apply it.
func (c *Config) CheckStorable() error {
	v := Validation{}
	v.checkText("timezone", c.Timezone, 64)
	for _, ch := range c.NotificationChannels {
		v.checkText("notification_channels", ch, 64)
	}
	if msg := JSONTextError(c.AdvancedConfig); msg != "" {
		v.Add("advanced_config", msg)
	}
	return v.Err()
}
