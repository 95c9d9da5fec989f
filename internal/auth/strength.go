package auth

import (
	"unicode/utf8"

	"github.com/polybot/polybot"
	"github.com/trustelem/zxcvbn"
)

// MinPasswordScore is the lowest zxcvbn score (0-4) a new password may
// have: 3 is "safely unguessable", about 10^8 guesses or more. zxcvbn's
// dictionaries hold the commonest passwords (about 30,000 of them), English
// words, names and keyboard patterns, so "password1234" and "qwertyuiop12"
// score low whatever their length.
const MinPasswordScore = 3

// strengthPrefix bounds the work zxcvbn does: its matching is superlinear in
// the length, and a password this long is not weak for its tail.
const strengthPrefix = 64

// CheckPasswordStrength refuses a password that is easy to guess, with a
// field error naming "password". userInputs (the email, the display name)
// count as known to an attacker. Call it after polybot.ValidatePassword.
func CheckPasswordStrength(pw string, userInputs ...string) error {
	if utf8.RuneCountInString(pw) > strengthPrefix {
		pw = string([]rune(pw)[:strengthPrefix])
	}
	if r := zxcvbn.PasswordStrength(pw, userInputs); r.Score < MinPasswordScore {
		return polybot.FieldError("password", "is too easy to guess (a common password, a word or a pattern); try a few unrelated words")
	}
	return nil
}
