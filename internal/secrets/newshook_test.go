package secrets_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/secrets"
)

// putHook seals secret as the signing secret of a new hook of tenant.
func putHook(t *testing.T, db polybot.Store, box *secrets.Box, tenant polybot.ID, id, secret string) *polybot.NewsHook {
	t.Helper()
	h := &polybot.NewsHook{ID: id, Name: "wire " + id}
	err := db.Tenant(context.Background(), tenant, func(tx polybot.TenantTx) error {
		var err error
		if h.Sealed, err = box.SealNewsHook(context.Background(), tx, id, []byte(secret)); err != nil {
			return err
		}
		return tx.PutNewsHook(h)
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func openHook(db polybot.Store, box *secrets.Box, tenant polybot.ID, id string) ([]byte, error) {
	var out []byte
	err := db.TenantView(context.Background(), tenant, func(tx polybot.TenantTx) error {
		h, err := tx.NewsHook(id)
		if err != nil {
			return err
		}
		out, err = box.OpenNewsHook(context.Background(), tx, h)
		return err
	})
	return out, err
}

func TestNewsHookSecretOpensOnlyForItsTenantAndHook(t *testing.T) {
	db := openStore(t)
	box := secrets.NewBox(fileKeyring(t, t.TempDir()), 0)
	alice, bob := createUser(t, db), createUser(t, db)
	const secret = "pbwh_alices-signing-secret"
	h := putHook(t, db, box, alice, "hook-alice", secret)
	if strings.Contains(h.Sealed, secret) || !strings.HasPrefix(h.Sealed, "v1.") {
		t.Fatalf("sealed secret %q: want the v1 form without the plaintext", h.Sealed)
	}
	got, err := openHook(db, box, alice, "hook-alice")
	if err != nil || string(got) != secret {
		t.Fatalf("OpenNewsHook = %q, %v; want the secret", got, err)
	}
	putHook(t, db, box, bob, "hook-bob", "bob's")
	// The sealed text copied to another hook, or to another tenant's hook,
	// does not open.
	for _, c := range []struct {
		name   string
		tenant polybot.ID
		id     string
	}{{"another hook of the tenant", alice, "hook-alice-2"}, {"another tenant's hook", bob, "hook-bob"}} {
		t.Run(c.name, func(t *testing.T) {
			err := db.Tenant(context.Background(), c.tenant, func(tx polybot.TenantTx) error {
				return tx.PutNewsHook(&polybot.NewsHook{ID: c.id, Name: "moved", Sealed: h.Sealed})
			})
			if err != nil {
				t.Fatal(err)
			}
			got, err := openHook(db, box, c.tenant, c.id)
			if err == nil || got != nil || !errors.Is(err, secrets.ErrDecrypt) || polybot.ErrorCode(err) != polybot.EINTERNAL {
				t.Fatalf("OpenNewsHook of a moved secret = %q, %v; want an internal ErrDecrypt", got, err)
			}
		})
	}
	// A hook's sealed secret is not an exchange secret's field, nor the other way.
	s := putSecret(t, db, box, alice, polybot.Kalshi, false, kalshiFields)
	err = db.Tenant(context.Background(), alice, func(tx polybot.TenantTx) error {
		return tx.PutNewsHook(&polybot.NewsHook{ID: "hook-from-secret", Name: "x", Sealed: s.Sealed[polybot.FieldAPIKey]})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openHook(db, box, alice, "hook-from-secret"); !errors.Is(err, secrets.ErrDecrypt) {
		t.Fatalf("an exchange secret's field opened as a hook secret: %v", err)
	}
	var trail []*polybot.AuditEntry
	err = db.TenantView(context.Background(), alice, func(tx polybot.TenantTx) (err error) {
		trail, err = tx.AuditTrail(0, 100)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range trail {
		if e.Action == polybot.AuditSecretDecrypt {
			t.Errorf("opening a hook's secret appended a decrypt entry: %+v", e)
		}
	}
}

func TestSealNewsHookRefusesAnEmptySecretOrID(t *testing.T) {
	db := openStore(t)
	box := secrets.NewBox(fileKeyring(t, t.TempDir()), 0)
	tenant := createUser(t, db)
	for _, c := range []struct {
		id, secret, field string
	}{{"", "s", "id"}, {strings.Repeat("x", 65), "s", "id"}, {"hook", "", "secret"}} {
		err := db.Tenant(context.Background(), tenant, func(tx polybot.TenantTx) error {
			_, err := box.SealNewsHook(context.Background(), tx, c.id, []byte(c.secret))
			return err
		})
		if polybot.ErrorFields(err)[c.field] == "" {
			t.Errorf("SealNewsHook(%q, %q) = %v, want %s named", c.id, c.secret, err, c.field)
		}
	}
}
