package polybot

import (
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// Role is what a user may do beyond their own tenant.
type Role string

const (
	RoleUser  Role = "user"
	RoleAdmin Role = "admin"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleUser || r == RoleAdmin }

// User is an account. Its ID is the tenant: every tenant-scoped row carries it.
// PasswordHash is empty for users who sign in through an external identity
// provider (Supabase JWTs).
type User struct {
	ID           ID        `json:"id"`
	Email        string    `json:"email"`
	PasswordHash string    `json:"-"`
	Role         Role      `json:"role"`
	Disabled     bool      `json:"disabled"`
	CreatedAt    time.Time `json:"created_at"`
}

// NormalizeEmail lowercases and trims an address and checks its form.
func NormalizeEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", FieldError("email", "is required")
	}
	if msg := TextError(s, 0); msg != "" {
		return "", FieldError("email", msg)
	}
	if len(s) > 254 {
		return "", FieldError("email", "is longer than 254 characters")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || !strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".") {
		return "", FieldError("email", "is not a valid email address")
	}
	return s, nil
}

// Password length bounds, counted in characters (runes), not bytes.
const (
	MinPasswordChars = 12
	MaxPasswordChars = 256
)

// ValidatePassword checks a new password's form: valid UTF-8 without NUL
// bytes, 12-256 characters. How guessable it is, internal/auth judges
// (auth.CheckPasswordStrength).
func ValidatePassword(pw string) error {
	if msg := TextError(pw, 0); msg != "" {
		return FieldError("password", msg)
	}
	switch n := utf8.RuneCountInString(pw); {
	case n < MinPasswordChars:
		return FieldError("password", fmt.Sprintf("must be at least %d characters", MinPasswordChars))
	case n > MaxPasswordChars:
		return FieldError("password", fmt.Sprintf("must be at most %d characters", MaxPasswordChars))
	}
	return nil
}

// Session is a browser session. ID is the SHA-256 (hex) of the cookie value;
// the value itself is never stored.
type Session struct {
	ID         string    `json:"-"`
	UserID     ID        `json:"user_id"`
	CSRFToken  string    `json:"-"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
}

// APIToken is a bearer token for programmatic use. Only its SHA-256 hash is
// stored; Prefix (the first characters) lets a user tell tokens apart.
type APIToken struct {
	ID         ID         `json:"id"`
	UserID     ID         `json:"-"`
	Name       string     `json:"name"`
	Hash       string     `json:"-"`
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
}

// CheckNewAccount checks what a store writes when it creates an account:
// the email (required, text), a role (empty means user), and the profile
// and config when given. Both stores call it first, so both refuse the same
// input with the same field error.
func CheckNewAccount(u *User, p *Profile, c *Config) error {
	if u.Email == "" {
		return FieldError("email", "is required")
	}
	if err := CheckText("email", u.Email, 254); err != nil {
		return err
	}
	if u.Role == "" {
		u.Role = RoleUser
	}
	if !u.Role.Valid() {
		return FieldError("role", "must be user or admin")
	}
	if p != nil {
		if err := p.Validate(); err != nil {
			return err
		}
	}
	if c != nil {
		if err := c.CheckStorable(); err != nil {
			return err
		}
	}
	return nil
}
