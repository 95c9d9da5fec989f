package secrets_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/secrets"
	"github.com/polybot/polybot/internal/sqlite"
	"github.com/polybot/polybot/internal/storetest"
)

func noEnv(string) string { return "" }

func openStore(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "polybot.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	db.SetAuditKey(storetest.TestAuditKey)
	return db
}

func createUser(t *testing.T, db polybot.Store) polybot.ID {
	t.Helper()
	id := polybot.NewID()
	email := "u" + id.String()[:8] + "@example.com"
	err := db.Admin(context.Background(), func(tx polybot.AdminTx) error {
		tier, err := tx.Tier("free")
		if err != nil {
			return err
		}
		now := tx.Now()
		return tx.CreateUser(&polybot.User{ID: id, Email: email, Role: polybot.RoleUser, CreatedAt: now},
			polybot.NewProfile(id, email, tier, now), polybot.DefaultConfig(id, now))
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// putSecret seals fields into the tenant's secret for (platform, paper).
func putSecret(t *testing.T, db polybot.Store, box *secrets.Box, tenant polybot.ID, platform polybot.Platform, paper bool, fields map[string]string) *polybot.Secret {
	t.Helper()
	var s *polybot.Secret
	err := db.Tenant(context.Background(), tenant, func(tx polybot.TenantTx) error {
		var err error
		if s, err = box.NewSecret(context.Background(), tx, platform, paper, fields); err != nil {
			return err
		}
		return tx.PutSecret(s)
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// open reads the stored secret and opens one field in one transaction.
func open(db polybot.Store, box *secrets.Box, tenant polybot.ID, platform polybot.Platform, paper bool, field string) ([]byte, error) {
	var out []byte
	err := db.Tenant(context.Background(), tenant, func(tx polybot.TenantTx) error {
		s, err := tx.Secret(platform, paper)
		if err != nil {
			return err
		}
		out, err = box.Open(context.Background(), tx, s, field, "test")
		return err
	})
	return out, err
}

func fileKeyring(t *testing.T, dir string) *secrets.Keyring {
	t.Helper()
	kr, err := secrets.OpenKeyring(dir, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

var kalshiFields = map[string]string{
	polybot.FieldAPIKey:     "kalshi-key-id-123",
	polybot.FieldPrivateKey: "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA...\n-----END RSA PRIVATE KEY-----\n",
}

func TestSealedSecretsRoundTripThroughTheStore(t *testing.T) {
	db := openStore(t)
	box := secrets.NewBox(fileKeyring(t, t.TempDir()), 0)
	tenant := createUser(t, db)
	tests := []struct {
		platform polybot.Platform
		paper    bool
		fields   map[string]string
	}{
		{polybot.Polymarket, false, map[string]string{polybot.FieldPrivateKey: "0x4c0883a69102937d6231471b5dbb6204fe512961708279f1d1a2c2b9b5b1a1a1",
			polybot.FieldAPIKey: "pm-key", polybot.FieldAPISecret: "pm-secret", polybot.FieldPassphrase: "pm-pass"}},
		{polybot.Kalshi, true, kalshiFields},
		{polybot.Alpaca, true, map[string]string{polybot.FieldAPIKey: "PKTEST", polybot.FieldAPISecret: strings.Repeat("s", secrets.MaxSecretSize)}},
		{polybot.IBKR, false, map[string]string{polybot.FieldAPIKey: "ünïcødé ✓"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s paper=%v", tt.platform, tt.paper), func(t *testing.T) {
			s := putSecret(t, db, box, tenant, tt.platform, tt.paper, tt.fields)
			for f, val := range tt.fields {
				if strings.Contains(s.Sealed[f], val) {
					t.Fatalf("sealed %s contains its plaintext", f)
				}
				got, err := open(db, box, tenant, tt.platform, tt.paper, f)
				if err != nil || string(got) != val {
					t.Fatalf("Open(%s) = %q, %v; want the sealed value", f, got, err)
				}
			}
			err := db.Tenant(context.Background(), tenant, func(tx polybot.TenantTx) error {
				s, err := tx.Secret(tt.platform, tt.paper)
				if err != nil {
					return err
				}
				all, err := box.OpenAll(context.Background(), tx, s, "runner start")
				if err != nil {
					return err
				}
				defer all.Wipe()
				if len(all) != len(tt.fields) {
					return fmt.Errorf("OpenAll gave %d fields, want %d", len(all), len(tt.fields))
				}
				for f, val := range tt.fields {
					if all.Get(f) != val {
						return fmt.Errorf("OpenAll %s differs", f)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestCiphertextMovedToAnotherTenantPlatformFieldOrModeFailsToOpen(t *testing.T) {
	db := openStore(t)
	box := secrets.NewBox(fileKeyring(t, t.TempDir()), 0)
	alice, bob := createUser(t, db), createUser(t, db)
	src := putSecret(t, db, box, alice, polybot.Kalshi, false, kalshiFields)
	putSecret(t, db, box, bob, polybot.Kalshi, false, map[string]string{polybot.FieldAPIKey: "bob's own"})
	moved := func(tenant polybot.ID, platform polybot.Platform, paper bool, sealed map[string]string) *polybot.Secret {
		return &polybot.Secret{UserID: tenant, Platform: platform, Paper: paper, Active: true, Sealed: sealed,
			ValidationStatus: polybot.ValidationPending}
	}
	tests := []struct {
		name   string
		tenant polybot.ID
		s      *polybot.Secret
		field  string
	}{
		{"to another tenant", bob, moved(bob, polybot.Kalshi, false, maps(src.Sealed)), polybot.FieldAPIKey},
		{"to another platform", alice, moved(alice, polybot.Polymarket, false, maps(src.Sealed)), polybot.FieldAPIKey},
		{"to another field", alice, moved(alice, polybot.Alpaca, false, map[string]string{polybot.FieldAPISecret: src.Sealed[polybot.FieldAPIKey]}), polybot.FieldAPISecret},
		{"to paper", alice, moved(alice, polybot.Kalshi, true, maps(src.Sealed)), polybot.FieldPrivateKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The attacker writes the copied ciphertext into the store; the
			// victim's runner reads it back from there.
			err := db.Tenant(context.Background(), tt.tenant, func(tx polybot.TenantTx) error { return tx.PutSecret(tt.s) })
			if err != nil {
				t.Fatal(err)
			}
			got, err := open(db, box, tt.tenant, tt.s.Platform, tt.s.Paper, tt.field)
			if err == nil || got != nil {
				t.Fatalf("Open = %q, %v; want a failure", got, err)
			}
			if !errors.Is(err, secrets.ErrDecrypt) || polybot.ErrorCode(err) != polybot.EINTERNAL {
				t.Fatalf("error %v is not an internal ErrDecrypt", err)
			}
		})
	}
	if got, err := open(db, box, alice, polybot.Kalshi, false, polybot.FieldAPIKey); err != nil || string(got) != kalshiFields[polybot.FieldAPIKey] {
		t.Fatalf("the original no longer opens: %v", err)
	}
}

func maps(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestTamperedCiphertextInTheStoreFailsToOpen(t *testing.T) {
	db := openStore(t)
	box := secrets.NewBox(fileKeyring(t, t.TempDir()), 0)
	tenant := createUser(t, db)
	s := putSecret(t, db, box, tenant, polybot.Alpaca, true, map[string]string{polybot.FieldAPIKey: "PKTEST", polybot.FieldAPISecret: "abcdef"})
	sealed := s.Sealed[polybot.FieldAPISecret]
	swap := func(i int) string {
		b := []byte(sealed)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	tests := []struct{ name, sealed string }{
		{"first nonce character", swap(3)},
		{"middle character", swap(len(sealed) / 2)},
		{"tag character", swap(len(sealed) - 2)},
		{"truncated", sealed[:len(sealed)-4]},
		{"version changed", "v9" + sealed[2:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.Sealed[polybot.FieldAPISecret] = tt.sealed
			if err := db.Tenant(context.Background(), tenant, func(tx polybot.TenantTx) error { return tx.PutSecret(s) }); err != nil {
				t.Fatal(err)
			}
			if got, err := open(db, box, tenant, polybot.Alpaca, true, polybot.FieldAPISecret); err == nil || got != nil {
				t.Fatalf("Open of a tampered ciphertext = %q, %v", got, err)
			}
		})
	}
}

func TestDecryptWritesAnAuditRowWithThePurposeButNoValue(t *testing.T) {
	db := openStore(t)
	box := secrets.NewBox(fileKeyring(t, t.TempDir()), 0)
	tenant := createUser(t, db)
	putSecret(t, db, box, tenant, polybot.Kalshi, false, kalshiFields)
	ctx := context.Background()
	err := db.Tenant(ctx, tenant, func(tx polybot.TenantTx) error {
		s, err := tx.Secret(polybot.Kalshi, false)
		if err != nil {
			return err
		}
		if _, err := box.Open(ctx, tx, s, polybot.FieldAPIKey, "validate key"); err != nil {
			return err
		}
		all, err := box.OpenAll(ctx, tx, s, "runner start")
		all.Wipe()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var trail []*polybot.AuditEntry
	err = db.TenantView(ctx, tenant, func(tx polybot.TenantTx) error {
		trail, err = tx.AuditTrail(0, 100)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var decrypts []*polybot.AuditEntry
	for _, e := range trail {
		for _, v := range kalshiFields {
			if strings.Contains(e.Details, v) || strings.Contains(e.Target, v) {
				t.Fatalf("audit entry %d shows a secret value", e.Seq)
			}
		}
		if e.Action == polybot.AuditSecretDecrypt {
			decrypts = append(decrypts, e)
		}
	}
	slices.Reverse(decrypts) // oldest first
	if len(decrypts) != 2 {
		t.Fatalf("found %d decrypt entries, want 2 (one per Open/OpenAll)", len(decrypts))
	}
	want := []struct{ target, details string }{
		{"kalshi/live/api_key", `{"purpose":"validate key"}`},
		{"kalshi/live", `{"fields":["api_key","private_key"],"purpose":"runner start"}`},
	}
	for i, e := range decrypts {
		if e.Target != want[i].target || e.Details != want[i].details || e.Actor != "system" || e.UserID == nil || *e.UserID != tenant {
			t.Fatalf("decrypt entry %d = target %q details %s actor %q user %v; want target %q details %s for the tenant",
				i, e.Target, e.Details, e.Actor, e.UserID, want[i].target, want[i].details)
		}
	}

	t.Run("a decrypt without a purpose is refused", func(t *testing.T) {
		err := db.Tenant(ctx, tenant, func(tx polybot.TenantTx) error {
			s, err := tx.Secret(polybot.Kalshi, false)
			if err != nil {
				return err
			}
			_, err = box.Open(ctx, tx, s, polybot.FieldAPIKey, " ")
			return err
		})
		if err == nil {
			t.Fatal("Open without a purpose succeeded")
		}
	})
}

func TestNewSecretRejectsBadFieldsNamingEach(t *testing.T) {
	db := openStore(t)
	box := secrets.NewBox(fileKeyring(t, t.TempDir()), 0)
	tenant := createUser(t, db)
	tests := []struct {
		name      string
		platform  polybot.Platform
		fields    map[string]string
		badFields []string
	}{
		{"unknown field", polybot.Kalshi, map[string]string{"password": "x"}, []string{"password"}},
		{"empty value", polybot.Kalshi, map[string]string{polybot.FieldAPIKey: ""}, []string{polybot.FieldAPIKey}},
		{"blank value", polybot.Kalshi, map[string]string{polybot.FieldAPIKey: " \n"}, []string{polybot.FieldAPIKey}},
		{"over 16 KiB", polybot.Kalshi, map[string]string{polybot.FieldPrivateKey: strings.Repeat("k", secrets.MaxSecretSize+1)}, []string{polybot.FieldPrivateKey}},
		{"no fields", polybot.Kalshi, map[string]string{}, []string{"fields"}},
		{"unknown platform", "binance", map[string]string{polybot.FieldAPIKey: "k"}, []string{"platform"}},
		{"several at once", polybot.Kalshi, map[string]string{polybot.FieldAPIKey: "", "pin": "1", polybot.FieldPassphrase: "ok"}, []string{polybot.FieldAPIKey, "pin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := db.Tenant(context.Background(), tenant, func(tx polybot.TenantTx) error {
				_, err := box.NewSecret(context.Background(), tx, tt.platform, false, tt.fields)
				return err
			})
			if polybot.ErrorCode(err) != polybot.EINVALID {
				t.Fatalf("error = %v, want EINVALID", err)
			}
			got := polybot.ErrorFields(err)
			for _, f := range tt.badFields {
				if got[f] == "" {
					t.Fatalf("field errors %v do not name %q", got, f)
				}
			}
			if len(got) != len(tt.badFields) {
				t.Fatalf("field errors %v, want exactly %v", got, tt.badFields)
			}
		})
	}
}

func TestFingerprintIsStablePerTenantAndDiffersAcrossTenants(t *testing.T) {
	db := openStore(t)
	dir := t.TempDir()
	box := secrets.NewBox(fileKeyring(t, dir), 0)
	alice, bob := createUser(t, db), createUser(t, db)
	key := "AKIAIOSFODNN7EXAMPLE"
	aLive := putSecret(t, db, box, alice, polybot.Alpaca, false, map[string]string{polybot.FieldAPIKey: key, polybot.FieldAPISecret: "x"})
	aPaper := putSecret(t, db, box, alice, polybot.Alpaca, true, map[string]string{polybot.FieldAPIKey: key, polybot.FieldAPISecret: "y"})
	bLive := putSecret(t, db, box, bob, polybot.Alpaca, false, map[string]string{polybot.FieldAPIKey: key, polybot.FieldAPISecret: "x"})
	pk := putSecret(t, db, box, alice, polybot.Polymarket, false, map[string]string{polybot.FieldPrivateKey: "0xabc"})
	if len(aLive.Fingerprint) != 12 || aLive.Fingerprint != aPaper.Fingerprint {
		t.Fatalf("one tenant's same api key: fingerprints %q and %q, want the same 12 hex digits", aLive.Fingerprint, aPaper.Fingerprint)
	}
	if bLive.Fingerprint == aLive.Fingerprint {
		t.Fatal("two tenants' same key share a fingerprint: it is not keyed per tenant")
	}
	if strings.Contains(key, aLive.Fingerprint) || pk.Fingerprint == "" || pk.Fingerprint == aLive.Fingerprint {
		t.Fatalf("fingerprints %q / %q: want non-empty, distinct, not a piece of the key", aLive.Fingerprint, pk.Fingerprint)
	}
	err := db.Tenant(context.Background(), alice, func(tx polybot.TenantTx) error {
		fp, err := box.Fingerprint(context.Background(), tx, polybot.FieldAPIKey, []byte(key))
		if err == nil && fp != aLive.Fingerprint {
			err = fmt.Errorf("Fingerprint = %q, NewSecret set %q", fp, aLive.Fingerprint)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestOpenNeverCreatesADataKey(t *testing.T) {
	db := openStore(t)
	box := secrets.NewBox(fileKeyring(t, t.TempDir()), 0)
	tenant := createUser(t, db)
	err := db.Tenant(context.Background(), tenant, func(tx polybot.TenantTx) error {
		s := &polybot.Secret{UserID: tenant, Platform: polybot.Kalshi, Sealed: map[string]string{polybot.FieldAPIKey: "v1.AAAA"}}
		_, err := box.Open(context.Background(), tx, s, polybot.FieldAPIKey, "test")
		if err == nil {
			return errors.New("Open succeeded without a data key")
		}
		if _, err := tx.DataKey(); polybot.ErrorCode(err) != polybot.ENOTFOUND {
			return fmt.Errorf("after Open, DataKey() = %v; want ENOTFOUND", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// allOpen checks that box opens every tenant's Kalshi secret.
func allOpen(t *testing.T, db polybot.Store, box *secrets.Box, tenants []polybot.ID) {
	t.Helper()
	for _, tenant := range tenants {
		for f, want := range kalshiFields {
			got, err := open(db, box, tenant, polybot.Kalshi, false, f)
			if err != nil || string(got) != want {
				t.Fatalf("tenant %s %s: Open = %v", tenant, f, err)
			}
		}
	}
}

func dataKeys(t *testing.T, db polybot.Store) []*polybot.DataKey {
	t.Helper()
	var dks []*polybot.DataKey
	err := db.AdminView(context.Background(), func(tx polybot.AdminTx) error {
		var err error
		dks, err = tx.DataKeys()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return dks
}

func TestRotationKeepsEverySecretReadableByARunningServer(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	dir := t.TempDir()
	serverKeys := fileKeyring(t, dir)
	oldID := serverKeys.ID()
	server := secrets.NewBox(serverKeys, 0)
	var tenants []polybot.ID
	fingerprints := map[polybot.ID]string{}
	for range 3 {
		id := createUser(t, db)
		tenants = append(tenants, id)
		fingerprints[id] = putSecret(t, db, server, id, polybot.Kalshi, false, kalshiFields).Fingerprint
	}
	allOpen(t, db, server, tenants) // the server's cache is warm

	// `polybot keys rotate`, in another process: its own keyring on the same file.
	cliKeys, err := secrets.OpenKeyFile(filepath.Join(dir, secrets.KeyFileName), false)
	if err != nil {
		t.Fatal(err)
	}
	newID, err := cliKeys.AddKey()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := secrets.Rotate(ctx, db, cliKeys, cliKeys, "cli")
	if err != nil {
		t.Fatal(err)
	}
	if rep != (secrets.RotateReport{KeyID: newID, Total: 3, Rewrapped: 3, AuditKey: "current"}) {
		t.Fatalf("report = %+v", rep)
	}
	for _, dk := range dataKeys(t, db) {
		if dk.MasterKeyID != newID {
			t.Fatalf("data key of %s is still under %s", dk.UserID, dk.MasterKeyID)
		}
	}

	t.Run("the running server opens every secret", func(t *testing.T) {
		allOpen(t, db, server, tenants)
	})
	t.Run("and still after its data-key cache is cleared", func(t *testing.T) {
		server.ClearCache()
		allOpen(t, db, server, tenants)
	})
	t.Run("fingerprints survive rotation", func(t *testing.T) {
		for _, id := range tenants {
			err := db.Tenant(ctx, id, func(tx polybot.TenantTx) error {
				fp, err := server.Fingerprint(ctx, tx, polybot.FieldAPIKey, []byte(kalshiFields[polybot.FieldAPIKey]))
				if err == nil && fp != fingerprints[id] {
					err = fmt.Errorf("fingerprint changed from %q to %q", fingerprints[id], fp)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("the server wraps a new tenant's key under the new master key", func(t *testing.T) {
		id := createUser(t, db)
		putSecret(t, db, server, id, polybot.Kalshi, false, kalshiFields)
		tenants = append(tenants, id)
		for _, dk := range dataKeys(t, db) {
			if dk.UserID == id && dk.MasterKeyID != newID {
				t.Fatalf("new data key under %s, want %s", dk.MasterKeyID, newID)
			}
		}
	})
	t.Run("the rotation is audited with its counts", func(t *testing.T) {
		var entries []*polybot.AuditEntry
		var headSeq int64
		var headHash string
		err := db.AdminView(ctx, func(tx polybot.AdminTx) error {
			var err error
			if entries, err = tx.AuditEntries(0, 1000); err != nil {
				return err
			}
			headSeq, headHash, err = tx.AuditHead()
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		var rot *polybot.AuditEntry
		flat := make([]polybot.AuditEntry, len(entries))
		for i, e := range entries {
			flat[i] = *e
			if e.Action == polybot.AuditKeysRotate {
				rot = e
			}
		}
		if rot == nil || rot.Actor != "cli" || rot.UserID != nil || rot.Target != "master_key:"+newID {
			t.Fatalf("rotation audit entry = %+v", rot)
		}
		var got secrets.RotateReport
		if err := json.Unmarshal([]byte(rot.Details), &got); err != nil || got != rep {
			t.Fatalf("rotation details %s, want %+v", rot.Details, rep)
		}
		if probs := polybot.VerifyAuditChain(flat, headSeq, headHash, storetest.TestAuditKey); len(probs) != 0 {
			t.Fatalf("audit chain broken: %+v", probs)
		}
	})
	t.Run("rotating again changes nothing", func(t *testing.T) {
		rep, err := secrets.Rotate(ctx, db, cliKeys, cliKeys, "cli")
		if err != nil || rep.Rewrapped != 0 || rep.Current != len(tenants) {
			t.Fatalf("second rotation: %+v, %v", rep, err)
		}
	})
	t.Run("pruning drops only the unused old key", func(t *testing.T) {
		removed, err := cliKeys.Prune(ctx, db, "cli")
		if err != nil || !slices.Equal(removed, []string{oldID}) {
			t.Fatalf("Prune = %v, %v; want [%s]", removed, err, oldID)
		}
		if !slices.Equal(cliKeys.KeyIDs(), []string{newID}) {
			t.Fatalf("keyring holds %v after prune", cliKeys.KeyIDs())
		}
		server.ClearCache()
		allOpen(t, db, server, tenants)
		restarted := secrets.NewBox(fileKeyring(t, dir), 0)
		allOpen(t, db, restarted, tenants)
		if removed, err := cliKeys.Prune(ctx, db, "cli"); err != nil || len(removed) != 0 {
			t.Fatalf("second Prune = %v, %v; want nothing removed", removed, err)
		}
	})
}

func TestRotationFromOneWrapperToAnother(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	oldKey, newKey := secrets.GenerateKey(), secrets.GenerateKey()
	before, err := secrets.OpenKeyring("", func(k string) string {
		return map[string]string{secrets.EnvMasterKey: oldKey}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	var tenants []polybot.ID
	box := secrets.NewBox(before, 0)
	for range 3 {
		id := createUser(t, db)
		tenants = append(tenants, id)
		putSecret(t, db, box, id, polybot.Kalshi, false, kalshiFields)
	}
	after, err := secrets.OpenKeyring("", func(k string) string {
		return map[string]string{secrets.EnvMasterKey: newKey}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := secrets.Rotate(ctx, db, before, after, "cli")
	if err != nil || rep.Rewrapped != 3 {
		t.Fatalf("Rotate = %+v, %v", rep, err)
	}
	allOpen(t, db, secrets.NewBox(after, 0), tenants)
	if _, err := open(db, secrets.NewBox(before, 0), tenants[0], polybot.Kalshi, false, polybot.FieldAPIKey); err == nil {
		t.Fatal("the retired master key still opens a secret")
	}
}

// interferingWrapper changes a tenant's data key in the store (as a second
// rotation would) between Rotate's read and its compare-and-swap.
type interferingWrapper struct {
	secrets.KeyWrapper
	db   polybot.Store
	once sync.Once
}

func (w *interferingWrapper) Wrap(ctx context.Context, dek, aad []byte) (string, []byte, error) {
	w.once.Do(func() {
		tenant, _ := polybot.ParseID(string(aad))
		id, wrapped, err := w.KeyWrapper.Wrap(ctx, dek, aad)
		if err != nil {
			panic(err)
		}
		var old *polybot.DataKey
		err = w.db.TenantView(ctx, tenant, func(tx polybot.TenantTx) error {
			old, err = tx.DataKey()
			return err
		})
		if err == nil {
			err = w.db.Admin(ctx, func(atx polybot.AdminTx) error {
				return atx.ReplaceDataKey(&polybot.DataKey{UserID: tenant, MasterKeyID: id, Wrapped: wrapped, CreatedAt: old.CreatedAt, RotatedAt: atx.Now()}, old.Wrapped)
			})
		}
		if err != nil {
			panic(err)
		}
	})
	return w.KeyWrapper.Wrap(ctx, dek, aad)
}

func TestRotationRetriesWhenAKeyChangesUnderneath(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	dir := t.TempDir()
	kr := fileKeyring(t, dir)
	box := secrets.NewBox(kr, 0)
	tenants := []polybot.ID{createUser(t, db), createUser(t, db)}
	for _, id := range tenants {
		putSecret(t, db, box, id, polybot.Kalshi, false, kalshiFields)
	}
	if _, err := kr.AddKey(); err != nil {
		t.Fatal(err)
	}
	to := &interferingWrapper{KeyWrapper: kr, db: db}
	rep, err := secrets.Rotate(ctx, db, kr, to, "cli")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total != 2 || rep.Rewrapped != 1 || rep.Current != 1 || rep.Failed != 0 {
		t.Fatalf("report = %+v; want one key rewrapped by Rotate and one found already moved", rep)
	}
	box.ClearCache()
	allOpen(t, db, box, tenants)
}

func TestRotationWhileServersKeepOpeningSecrets(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	dir := t.TempDir()
	server := secrets.NewBox(fileKeyring(t, dir), 2) // a tiny cache: most opens unwrap
	var tenants []polybot.ID
	for range 4 {
		id := createUser(t, db)
		tenants = append(tenants, id)
		putSecret(t, db, server, id, polybot.Kalshi, false, kalshiFields)
	}
	newTenants := make(chan polybot.ID, 100)
	for range 20 {
		newTenants <- createUser(t, db)
	}
	close(newTenants)

	var stop atomic.Bool
	var opens atomic.Int64
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			for n := 0; !stop.Load(); n++ {
				tenant := tenants[(i+n)%len(tenants)]
				got, err := open(db, server, tenant, polybot.Kalshi, false, polybot.FieldPrivateKey)
				if err == nil && !bytes.Equal(got, []byte(kalshiFields[polybot.FieldPrivateKey])) {
					err = errors.New("opened a different value")
				}
				if err != nil {
					errs <- fmt.Errorf("open during rotation: %w", err)
					return
				}
				opens.Add(1)
			}
		})
	}
	wg.Go(func() { // sign-ups create data keys while the master key changes
		for id := range newTenants {
			if stop.Load() {
				return
			}
			err := db.Tenant(ctx, id, func(tx polybot.TenantTx) error {
				s, err := server.NewSecret(ctx, tx, polybot.Alpaca, true, map[string]string{polybot.FieldAPIKey: "k"})
				if err != nil {
					return err
				}
				return tx.PutSecret(s)
			})
			if err != nil {
				errs <- fmt.Errorf("new secret during rotation: %w", err)
				return
			}
		}
	})

	for round := range 3 {
		cli, err := secrets.OpenKeyFile(filepath.Join(dir, secrets.KeyFileName), false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cli.AddKey(); err != nil {
			t.Fatal(err)
		}
		if _, err := secrets.Rotate(ctx, db, cli, cli, "cli"); err != nil {
			t.Fatalf("rotation %d: %v", round, err)
		}
		if round > 0 {
			if _, err := cli.Prune(ctx, db, "cli"); err != nil {
				t.Fatalf("prune %d: %v", round, err)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if opens.Load() == 0 {
		t.Fatal("no secret was opened during the rotations")
	}
	server.ClearCache()
	allOpen(t, db, server, tenants)

	// Whatever the sign-ups created mid-rotation is still readable after a
	// final rotation and prune, by a freshly started server.
	cli, _ := secrets.OpenKeyFile(filepath.Join(dir, secrets.KeyFileName), false)
	if _, err := secrets.Rotate(ctx, db, cli, cli, "cli"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Prune(ctx, db, "cli"); err != nil {
		t.Fatal(err)
	}
	fresh := secrets.NewBox(fileKeyring(t, dir), 0)
	for _, dk := range dataKeys(t, db) {
		_, err := open(db, fresh, dk.UserID, polybot.Alpaca, true, polybot.FieldAPIKey)
		if polybot.ErrorCode(err) == polybot.ENOTFOUND {
			_, err = open(db, fresh, dk.UserID, polybot.Kalshi, false, polybot.FieldAPIKey)
		}
		if err != nil {
			t.Fatalf("tenant %s: %v", dk.UserID, err)
		}
	}
}

func TestBoxNeverPrintsKeyMaterial(t *testing.T) {
	box := secrets.NewBox(fileKeyring(t, t.TempDir()), 0)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x"} {
		out := fmt.Sprintf(verb, box)
		if !strings.HasPrefix(out, "secrets.Box{") || !strings.Contains(out, "[redacted]") {
			t.Fatalf("%s of a Box = %q", verb, out)
		}
	}
}
