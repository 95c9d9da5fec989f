package sqlite

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/storetest"
)

// writeLegacyChain writes n entries as a database from before the chain was
// keyed holds them: sealed with plain SHA-256, the head moved one by one.
func writeLegacyChain(t *testing.T, db *DB, n int) {
	t.Helper()
	prev := polybot.GenesisHash
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	for i := 1; i <= n; i++ {
		e := polybot.AuditEntry{Seq: int64(i), Actor: "cli", Action: polybot.AuditAdminTier, Target: fmt.Sprint("user:", i),
			Details: `{"tier":"pro"}`, CreatedAt: at.Add(time.Duration(i) * time.Second), PrevHash: prev}
		e.Hash = e.ComputeHash()
		if _, err := db.w.Exec(`INSERT INTO polybot_audit_log (`+auditCols+`) VALUES (?, NULL, ?, ?, ?, ?, ?, ?, ?)`,
			e.Seq, e.Actor, e.Action, e.Target, e.Details, micros(e.CreatedAt), e.PrevHash, e.Hash); err != nil {
			t.Fatal(err)
		}
		if _, err := db.w.Exec(`UPDATE polybot_audit_head SET seq = ?, hash = ? WHERE id = 1`, e.Seq, e.Hash); err != nil {
			t.Fatal(err)
		}
		prev = e.Hash
	}
}

func keyChain(t *testing.T, db *DB) int64 {
	t.Helper()
	var n int64
	err := db.Admin(context.Background(), func(tx polybot.AdminTx) error {
		var err error
		n, err = tx.KeyAuditChain(&polybot.AuditKeyRecord{MasterKeyID: "test", Wrapped: []byte("wrapped")})
		return err
	})
	if err != nil {
		t.Fatalf("KeyAuditChain: %v", err)
	}
	return n
}

func verifyLog(t *testing.T, db *DB, k polybot.AuditKey) *polybot.AuditReport {
	t.Helper()
	rep, err := polybot.VerifyAuditLog(context.Background(), db, k)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestAuditKeyingReSealsAnExistingSHA256ChainOnce(t *testing.T) {
	db := openDB(t, nil)
	writeLegacyChain(t, db, 5)
	if rep := verifyLog(t, db, storetest.TestAuditKey); rep.OK || len(rep.Problems) != 5 {
		t.Fatalf("an unkeyed chain verified under the key: %+v", rep)
	}
	if n := keyChain(t, db); n != 5 {
		t.Fatalf("re-sealed %d entries, want 5", n)
	}
	rep := verifyLog(t, db, storetest.TestAuditKey)
	if !rep.OK || rep.Entries != 6 || rep.HeadSeq != 6 {
		t.Fatalf("after keying: %+v, want 6 entries (5 re-sealed + audit.keyed) intact", rep)
	}
	err := db.Admin(context.Background(), func(tx polybot.AdminTx) error {
		_, err := tx.KeyAuditChain(&polybot.AuditKeyRecord{MasterKeyID: "test", Wrapped: []byte("again")})
		return err
	})
	if polybot.ErrorCode(err) != polybot.ECONFLICT {
		t.Fatalf("keying twice: %v, want ECONFLICT", err)
	}
	// Once keyed, the log is append-only again: not even hash columns move.
	for _, q := range []string{
		`UPDATE polybot_audit_log SET hash = 'x' WHERE seq = 2`,
		`UPDATE polybot_audit_head SET hash = 'x' WHERE id = 1`,
		`DELETE FROM polybot_audit_key`,
	} {
		if _, err := db.w.Exec(q); err == nil {
			t.Errorf("%s after keying: no error, want the trigger to refuse it", q)
		}
	}
}

func TestAuditKeyingRefusesABrokenSHA256Chain(t *testing.T) {
	db := openDB(t, nil)
	writeLegacyChain(t, db, 4)
	if _, err := db.w.Exec(`DROP TRIGGER polybot_audit_log_no_update`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.w.Exec(`UPDATE polybot_audit_log SET target = 'forged' WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	err := db.Admin(context.Background(), func(tx polybot.AdminTx) error {
		_, err := tx.KeyAuditChain(&polybot.AuditKeyRecord{MasterKeyID: "test", Wrapped: []byte("wrapped")})
		return err
	})
	if polybot.ErrorCode(err) != polybot.EINVALID || !strings.Contains(err.Error(), "seq 3") {
		t.Fatalf("keying a broken chain: %v, want EINVALID naming seq 3", err)
	}
}

func TestAppendAuditWithoutAKeyFailsClosed(t *testing.T) {
	db := openDB(t, nil)
	db.SetAuditKey(nil)
	err := db.Admin(context.Background(), func(tx polybot.AdminTx) error {
		return tx.AppendAudit(&polybot.AuditEntry{Actor: "cli", Action: polybot.AuditAdminTier})
	})
	if err == nil || !strings.Contains(err.Error(), "no audit key") {
		t.Fatalf("append without a key: %v, want a refusal naming the missing audit key", err)
	}
}

// keyedDB is a keyed store holding 5 entries appended through the store.
func keyedDB(t *testing.T) *DB {
	t.Helper()
	db := openDB(t, nil)
	keyChain(t, db)
	for i := range 4 {
		err := db.Admin(context.Background(), func(tx polybot.AdminTx) error {
			return tx.AppendAudit(&polybot.AuditEntry{Actor: "cli", Action: polybot.AuditAdminTier, Target: fmt.Sprint(i)})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if rep := verifyLog(t, db, storetest.TestAuditKey); !rep.OK || rep.Entries != 5 {
		t.Fatalf("fresh chain: %+v", rep)
	}
	for _, trig := range []string{"polybot_audit_log_no_update", "polybot_audit_log_no_delete", "polybot_audit_head_forward"} {
		if _, err := db.w.Exec(`DROP TRIGGER ` + trig); err != nil { // the attacker has the file
			t.Fatal(err)
		}
	}
	return db
}

func problemSeqs(rep *polybot.AuditReport) map[int64]string {
	m := map[int64]string{}
	for _, p := range rep.Problems {
		m[p.Seq] += p.Reason + "; "
	}
	return m
}

func TestAuditVerifyDetectsForgery(t *testing.T) {
	entries := func(db *DB) []polybot.AuditEntry {
		var out []polybot.AuditEntry
		err := db.AdminView(context.Background(), func(tx polybot.AdminTx) error {
			list, err := tx.AuditEntries(0, 100)
			for _, e := range list {
				out = append(out, *e)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	t.Run("an edited row is named", func(t *testing.T) {
		db := keyedDB(t)
		if _, err := db.w.Exec(`UPDATE polybot_audit_log SET target = 'forged' WHERE seq = 3`); err != nil {
			t.Fatal(err)
		}
		rep := verifyLog(t, db, storetest.TestAuditKey)
		if p := problemSeqs(rep); rep.OK || len(p) != 1 || !strings.Contains(p[3], "MAC does not match") {
			t.Fatalf("edited row 3: %+v", rep)
		}
	})
	t.Run("a deleted row is named", func(t *testing.T) {
		db := keyedDB(t)
		if _, err := db.w.Exec(`DELETE FROM polybot_audit_log WHERE seq = 3`); err != nil {
			t.Fatal(err)
		}
		rep := verifyLog(t, db, storetest.TestAuditKey)
		if p := problemSeqs(rep); rep.OK || !strings.Contains(p[4], "sequence gap") {
			t.Fatalf("deleted row 3: %+v", rep)
		}
	})
	t.Run("a whole chain recomputed with SHA-256 in raw SQL is broken at every row", func(t *testing.T) {
		db := keyedDB(t)
		prev := polybot.GenesisHash
		for _, e := range entries(db) {
			if e.Seq == 2 {
				e.Target = "forged"
			}
			e.PrevHash = prev
			e.Hash = e.ComputeHash()
			if _, err := db.w.Exec(`UPDATE polybot_audit_log SET target = ?, prev_hash = ?, hash = ? WHERE seq = ?`, e.Target, e.PrevHash, e.Hash, e.Seq); err != nil {
				t.Fatal(err)
			}
			prev = e.Hash
		}
		if _, err := db.w.Exec(`UPDATE polybot_audit_head SET hash = ? WHERE id = 1`, prev); err != nil {
			t.Fatal(err)
		}
		rep := verifyLog(t, db, storetest.TestAuditKey)
		p := problemSeqs(rep)
		for seq := int64(1); seq <= 5; seq++ {
			if !strings.Contains(p[seq], "plain SHA-256") {
				t.Fatalf("row %d of a SHA-256 chain not named: %+v", seq, rep)
			}
		}
	})
	t.Run("an entry forged with another key is named", func(t *testing.T) {
		db := keyedDB(t)
		all := entries(db)
		last := all[len(all)-1]
		uid := polybot.NewID()
		f := &polybot.AuditEntry{UserID: &uid, Actor: "admin:forged", Action: polybot.AuditAdminTier, Target: "user:" + uid.String(), CreatedAt: time.Now()}
		if err := f.Seal(last.Seq, last.Hash, storetest.OtherAuditKey()); err != nil {
			t.Fatal(err)
		}
		if _, err := db.w.Exec(`INSERT INTO polybot_audit_log (`+auditCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			f.Seq, uid.String(), f.Actor, f.Action, f.Target, f.Details, micros(f.CreatedAt), f.PrevHash, f.Hash); err != nil {
			t.Fatal(err)
		}
		if _, err := db.w.Exec(`UPDATE polybot_audit_head SET seq = ?, hash = ? WHERE id = 1`, f.Seq, f.Hash); err != nil {
			t.Fatal(err)
		}
		rep := verifyLog(t, db, storetest.TestAuditKey)
		if p := problemSeqs(rep); rep.OK || len(p) != 1 || !strings.Contains(p[f.Seq], "MAC does not match") {
			t.Fatalf("forged row %d: %+v", f.Seq, rep)
		}
	})
}
