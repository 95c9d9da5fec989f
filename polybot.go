// Package polybot holds PolyBot's domain: tenants (users) and their profiles,
// tiers, configuration and encrypted secrets, the audit log, the monthly trade
// quota, and the interfaces that storage and services implement.
//
// It owns the rules that do not depend on any technology (validation, tier
// defaults, the audit hash chain, exact money). It must not import any other
// package of this module, nor any database, HTTP or venue library; adapters
// live under internal/ and are named after their technology.
package polybot

import (
	"crypto/rand"
	"database/sql/driver"
	"encoding/hex"
	"fmt"
	"slices"
	"time"
)

// Version is the build version, set with -ldflags at release time.
var Version = "dev"

// ID is a tenant or user identifier: an RFC 4122 UUID.
type ID [16]byte

// NilID is the zero ID.
var NilID ID

// NewID returns a random (version 4) ID.
func NewID() ID {
	var id ID
	if _, err := rand.Read(id[:]); err != nil {
		panic("polybot: crypto/rand failed: " + err.Error())
	}
	id[6] = (id[6] & 0x0f) | 0x40
	id[8] = (id[8] & 0x3f) | 0x80
	return id
}

// ParseID parses the canonical 8-4-4-4-12 hex form of a UUID.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return id, fmt.Errorf("invalid UUID %q", truncate(s, 40))
	}
	b := []byte(s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36])
	if _, err := hex.Decode(id[:], b); err != nil {
		return NilID, fmt.Errorf("invalid UUID %q", truncate(s, 40))
	}
	return id, nil
}

func (id ID) String() string {
	var b [36]byte
	return string(id.Append(b[:0]))
}

// Append appends id as String formats it to b.
func (id ID) Append(b []byte) []byte {
	b = slices.Grow(b, 36)
	n := len(b)
	b = b[:n+36]
	id.format(b[n:])
	return b
}

func (id ID) format(b []byte) {
	hex.Encode(b[0:8], id[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], id[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], id[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], id[8:10])
	b[23] = '-'
	hex.Encode(b[24:36], id[10:16])
}

// IsZero reports whether id is the nil UUID.
func (id ID) IsZero() bool { return id == NilID }

// MarshalText implements encoding.TextMarshaler.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// Value implements driver.Valuer: IDs are stored in their canonical text form.
func (id ID) Value() (driver.Value, error) { return id.String(), nil }

// Scan implements sql.Scanner.
func (id *ID) Scan(src any) error {
	switch v := src.(type) {
	case string:
		return id.UnmarshalText([]byte(v))
	case []byte:
		if len(v) == 16 {
			copy(id[:], v)
			return nil
		}
		return id.UnmarshalText(v)
	case [16]byte:
		*id = v
		return nil
	}
	return fmt.Errorf("cannot scan %T into polybot.ID", src)
}

// Clock tells the time. Stores and services take one so that tests can pin
// months, days and expiries.
type Clock func() time.Time

// SystemClock is the wall clock in UTC.
func SystemClock() time.Time { return time.Now().UTC() }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
