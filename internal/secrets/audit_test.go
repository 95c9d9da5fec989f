package secrets_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/secrets"
)

func TestAuditKeySurvivesRestartRotationAndPrune(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := openStore(t)
	db.SetAuditKey(nil) // as a fresh process: no key until LoadAuditKey
	keyFile := filepath.Join(dir, secrets.KeyFileName)
	kr, err := secrets.OpenKeyFile(keyFile, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Admin(ctx, func(tx polybot.AdminTx) error {
		return tx.AppendAudit(&polybot.AuditEntry{Actor: "cli", Action: polybot.AuditAdminTier})
	}); err == nil {
		t.Fatal("an append before the audit key was loaded succeeded")
	}
	ak, resealed, err := secrets.LoadAuditKey(ctx, db, kr)
	if err != nil || resealed != 0 || !ak.Loaded() {
		t.Fatalf("first LoadAuditKey: %v resealed %d", err, resealed)
	}
	if s := fmt.Sprintf("%v %+v %#v %x", ak, ak, ak, ak); strings.Count(s, "[redacted]") != 4 {
		t.Fatalf("the audit key prints as %s", s)
	}
	tenant := createUser(t, db)
	box := secrets.NewBox(kr, 0)
	putSecret(t, db, box, tenant, polybot.Kalshi, true, map[string]string{polybot.FieldAPIKey: "k"})
	if err := db.Tenant(ctx, tenant, func(tx polybot.TenantTx) error {
		return tx.AppendAudit(&polybot.AuditEntry{Actor: tenant.String(), Action: polybot.AuditConfigUpdate})
	}); err != nil {
		t.Fatal(err)
	}
	verify := func(k polybot.AuditKey) *polybot.AuditReport {
		t.Helper()
		rep, err := polybot.VerifyAuditLog(ctx, db, k)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := verify(ak); !rep.OK || rep.Entries < 2 {
		t.Fatalf("after keying: %+v", rep)
	}

	// `keys rotate --prune` in another process on the same key file.
	cli, err := secrets.OpenKeyFile(keyFile, false)
	if err != nil {
		t.Fatal(err)
	}
	oldID := cli.ID()
	newID, err := cli.AddKey()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := secrets.Rotate(ctx, db, cli, cli, "cli")
	if err != nil || rep.AuditKey != "rewrapped" {
		t.Fatalf("Rotate: %+v %v", rep, err)
	}
	removed, err := cli.Prune(ctx, db, "cli")
	if err != nil || len(removed) != 1 || removed[0] != oldID {
		t.Fatalf("Prune removed %v, %v; want the old key %s", removed, err, oldID)
	}
	var rec *polybot.AuditKeyRecord
	if err := db.AdminView(ctx, func(tx polybot.AdminTx) error {
		var err error
		rec, err = tx.AuditKey()
		return err
	}); err != nil || rec.MasterKeyID != newID {
		t.Fatalf("audit key record %+v %v, want it under %s", rec, err, newID)
	}

	// A restart: a new keyring over the pruned file unwraps the same key,
	// so every MAC written before rotation still verifies.
	db.SetAuditKey(nil)
	restarted, err := secrets.OpenKeyFile(keyFile, false)
	if err != nil {
		t.Fatal(err)
	}
	ak2, resealed, err := secrets.LoadAuditKey(ctx, db, restarted)
	if err != nil || resealed != 0 {
		t.Fatalf("LoadAuditKey after rotation: %v, resealed %d", err, resealed)
	}
	if rep := verify(ak2); !rep.OK {
		t.Fatalf("after rotation and restart: %+v", rep)
	}
	// A cursor sealed before the restart opens after it, for its tenant only.
	c := ak.SealCursor(tenant, 42)
	if seq, err := ak2.OpenCursor(tenant, c); err != nil || seq != 42 {
		t.Fatalf("OpenCursor after restart: %d %v", seq, err)
	}
	if _, err := ak2.OpenCursor(polybot.NewID(), c); polybot.ErrorCode(err) != polybot.EINVALID {
		t.Fatalf("another tenant's cursor: %v, want EINVALID", err)
	}

	// Another master key cannot open the audit key at all.
	other, err := secrets.OpenKeyFile(filepath.Join(t.TempDir(), secrets.KeyFileName), true)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := secrets.LoadAuditKey(ctx, db, other); err == nil {
		t.Fatal("LoadAuditKey with an unrelated master key succeeded")
	}
	// And the chain verified under another audit key is broken at every row.
	if rep := verify(otherKey{}); rep.OK || len(rep.Problems) < rep.Entries {
		t.Fatalf("verify under another key: %+v", rep)
	}
}

type otherKey struct{}

func (otherKey) MAC(msg []byte) []byte { return make([]byte, 32) }
