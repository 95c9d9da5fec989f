package polybot

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Platform is a venue or broker a tenant can hold keys for.
type Platform string

const (
	Polymarket Platform = "polymarket"
	Kalshi     Platform = "kalshi"
	Alpaca     Platform = "alpaca"
	IBKR       Platform = "ibkr"
)

// Platforms lists every platform, in the order the UI shows them.
var Platforms = []Platform{Polymarket, Kalshi, Alpaca, IBKR}

// ParsePlatform checks a platform name.
func ParsePlatform(s string) (Platform, error) {
	for _, p := range Platforms {
		if string(p) == s {
			return p, nil
		}
	}
	names := make([]string, len(Platforms))
	for i, p := range Platforms {
		names[i] = string(p)
	}
	return "", FieldError("platform", fmt.Sprintf("unknown platform %q (want one of %s)", truncate(s, 32), strings.Join(names, ", ")))
}

// Secret fields. Each is sealed separately, and the field name is part of the
// ciphertext's associated data, so one field's ciphertext cannot stand in for another's.
const (
	FieldAPIKey     = "api_key"
	FieldAPISecret  = "api_secret"
	FieldPrivateKey = "private_key"
	FieldPassphrase = "passphrase"
)

// SecretFields lists the sealed fields.
var SecretFields = []string{FieldAPIKey, FieldAPISecret, FieldPrivateKey, FieldPassphrase}

// Validation statuses of a stored key.
const (
	ValidationPending = "pending"
	ValidationValid   = "valid"
	ValidationInvalid = "invalid"
	ValidationExpired = "expired"
)

// Secret is a tenant's exchange credentials for one platform in one mode
// (paper or live): the seed's polybot_user_secrets. Sealed holds the
// ciphertexts by field name; plaintext never lives in this struct.
type Secret struct {
	ID               int64
	UserID           ID
	Platform         Platform
	Paper            bool
	Active           bool
	Sealed           map[string]string // field -> sealed value (see internal/secrets)
	AdditionalConfig json.RawMessage   // non-secret settings, e.g. a wallet address
	Fingerprint      string
	ValidationStatus string
	LastValidatedAt  *time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// SecretMeta is what the API shows of a secret: never a value.
type SecretMeta struct {
	Platform         Platform        `json:"platform"`
	Paper            bool            `json:"is_paper"`
	Active           bool            `json:"is_active"`
	Fields           []string        `json:"fields"`
	AdditionalConfig json.RawMessage `json:"additional_config"`
	Fingerprint      string          `json:"fingerprint"`
	ValidationStatus string          `json:"validation_status"`
	LastValidatedAt  *time.Time      `json:"last_validated_at"`
	CreatedAt        time.Time       `json:"created_at"`
	UpdatedAt        time.Time       `json:"updated_at"`
}

// Meta returns the public view of s.
func (s *Secret) Meta() SecretMeta {
	m := SecretMeta{Platform: s.Platform, Paper: s.Paper, Active: s.Active, Fields: []string{},
		AdditionalConfig: s.AdditionalConfig, Fingerprint: s.Fingerprint, ValidationStatus: s.ValidationStatus,
		LastValidatedAt: s.LastValidatedAt, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
	for _, f := range SecretFields {
		if s.Sealed[f] != "" {
			m.Fields = append(m.Fields, f)
		}
	}
	if len(m.AdditionalConfig) == 0 {
		m.AdditionalConfig = json.RawMessage(`{}`)
	}
	return m
}

// DataKey is a tenant's data-encryption key, wrapped by a master key. Only
// the wrapped form is stored.
type DataKey struct {
	UserID      ID        `json:"user_id"`
	MasterKeyID string    `json:"master_key_id"`
	Wrapped     []byte    `json:"-"`
	CreatedAt   time.Time `json:"created_at"`
	RotatedAt   time.Time `json:"rotated_at"`
}
