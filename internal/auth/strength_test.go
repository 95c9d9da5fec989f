package auth

import (
	"strings"
	"testing"

	"github.com/polybot/polybot"
)

func TestCheckPasswordStrengthRefusesCommonAndGuessablePasswords(t *testing.T) {
	for _, tc := range []struct {
		name, pw string
		inputs   []string
		ok       bool
	}{
		{"a common password with digits", "password1234", nil, false},
		{"a keyboard walk", "qwertyuiop12", nil, false},
		{"a run of digits", "123456789012", nil, false},
		{"a phrase from the top lists", "iloveyou1234", nil, false},
		{"the user's own email", "grace.hopper.1906", []string{"grace.hopper.1906@example.com", "grace.hopper.1906"}, false},
		{"unrelated words", "violet orbit staple lamp", nil, true},
		{"random characters", "RrhAEKLgdpINOpKv", nil, true},
		{"a long passphrase is judged on its first 64 characters", strings.Repeat("violet orbit staple lamp ", 20), nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckPasswordStrength(tc.pw, tc.inputs...)
			if tc.ok != (err == nil) {
				t.Fatalf("CheckPasswordStrength(%q) = %v, want ok=%v", tc.pw, err, tc.ok)
			}
			if err != nil && polybot.ErrorFields(err)["password"] == "" {
				t.Fatalf("the error does not name the password field: %v", err)
			}
		})
	}
}
