// Package secrets owns the encryption of tenants' exchange keys: envelope
// encryption with one data key (DEK) per tenant, wrapped by a master key.
//
// It owns the master-key wrappers (the local keyring file, or a key from the
// environment) behind the narrow KeyWrapper interface, the sealed text format
// of a secret field and its associated data, the decrypt audit rows, the key
// fingerprints users see, the platform's audit key (the HMAC key of the audit
// chain, wrapped by the master key like a data key; see LoadAuditKey), and
// master-key rotation. It is the only package that
// touches key material: everyone else holds sealed strings and fingerprints,
// and the runner that trades holds plaintext only for as long as it needs it.
//
// It imports the root package polybot and the standard library only. It must
// not import a store, a server, a venue or a logger: storage comes in as
// polybot.TenantTx / polybot.Store, so seals, opens and their audit rows
// commit in the caller's transaction.
//
// Nothing in this package puts key material or plaintext into an error, a log
// attribute or a formatted value: types that hold it print as redacted.
package secrets

import (
	"context"
	"fmt"
	"log/slog"
)

// KeyWrapper wraps tenant data keys under a master key. Implementations: the
// local Keyring; a Vault Transit adapter can implement the same three methods.
// Implementations must be safe for concurrent use.
type KeyWrapper interface {
	// ID names the master key that Wrap uses now.
	ID() string
	// Wrap encrypts dek under the active master key, binding aad (the tenant
	// id). It returns the id of the key it used.
	Wrap(ctx context.Context, dek, aad []byte) (keyID string, wrapped []byte, err error)
	// Unwrap decrypts a data key wrapped by the master key keyID with the same
	// aad. A wrong aad, key or a modified wrapped key is an error.
	Unwrap(ctx context.Context, keyID string, wrapped, aad []byte) ([]byte, error)
}

// redacted is what every type holding key material prints as.
const redacted = "[redacted]"

// writeRedacted implements fmt.Formatter for types that hold key material:
// every verb, %d and %x included, prints the type name and no contents.
func writeRedacted(f fmt.State, name string) {
	_, _ = fmt.Fprint(f, name+"{"+redacted+"}")
}

var (
	_ slog.LogValuer = (*Keyring)(nil)
	_ slog.LogValuer = (*Box)(nil)
	_ slog.LogValuer = Plaintext(nil)
)
