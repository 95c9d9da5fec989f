package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/postgres"
	"github.com/polybot/polybot/internal/postgres/pgtest"
	"github.com/polybot/polybot/internal/storetest"
)

func keyAuditChain(t *testing.T, db *postgres.DB) int64 {
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

func verifyAudit(t *testing.T, db *postgres.DB) *polybot.AuditReport {
	t.Helper()
	rep, err := polybot.VerifyAuditLog(context.Background(), db, storetest.TestAuditKey)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func auditProblems(rep *polybot.AuditReport) map[int64]string {
	m := map[int64]string{}
	for _, p := range rep.Problems {
		m[p.Seq] += p.Reason + "; "
	}
	return m
}

func execAll(t *testing.T, conn *pgx.Conn, qs ...string) {
	t.Helper()
	for _, q := range qs {
		if _, err := conn.Exec(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func TestAuditKeyingReSealsAnExistingSHA256ChainOnceAsTheService(t *testing.T) {
	d := pgtest.NewDatabase(t)
	db := d.Open(t, nil)
	conn := d.Conn(t)
	ctx := context.Background()
	// Rows as a database from before migration 0005 holds them.
	prev := polybot.GenesisHash
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	for i := int64(1); i <= 4; i++ {
		e := polybot.AuditEntry{Seq: i, Actor: "cli", Action: polybot.AuditAdminTier, Target: fmt.Sprint("user:", i),
			Details: `{"tier": "pro"}`, CreatedAt: at.Add(time.Duration(i) * time.Second), PrevHash: prev}
		e.Hash = e.ComputeHash()
		if _, err := conn.Exec(ctx, `INSERT INTO polybot_audit_log (seq, actor, action, target, details, created_at, prev_hash, hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, e.Seq, e.Actor, e.Action, e.Target, e.Details, e.CreatedAt, e.PrevHash, e.Hash); err != nil {
			t.Fatal(err)
		}
		prev = e.Hash
	}
	if _, err := conn.Exec(ctx, `UPDATE polybot_audit_head SET seq = 4, hash = $1`, prev); err != nil {
		t.Fatal(err)
	}
	if n := keyAuditChain(t, db); n != 4 {
		t.Fatalf("re-sealed %d, want 4", n)
	}
	if rep := verifyAudit(t, db); !rep.OK || rep.Entries != 5 {
		t.Fatalf("after keying: %+v", rep)
	}
	// Never twice, and the re-seal function refuses once the key is stored.
	err := db.Admin(ctx, func(tx polybot.AdminTx) error {
		_, err := tx.KeyAuditChain(&polybot.AuditKeyRecord{MasterKeyID: "test", Wrapped: []byte("again")})
		return err
	})
	if polybot.ErrorCode(err) != polybot.ECONFLICT {
		t.Fatalf("keying twice: %v, want ECONFLICT", err)
	}
	for _, q := range []string{
		`SET ROLE polybot_service; SELECT polybot_audit_reseal(ARRAY[1]::bigint[], ARRAY['x'], ARRAY[repeat('0', 64)])`,
		`SET ROLE polybot_owner; SELECT set_config('polybot.audit_reseal', 'on', false); UPDATE polybot_audit_log SET hash = 'x' WHERE seq = 1`,
		`SET ROLE authenticated; SELECT polybot_audit_reseal(ARRAY[1]::bigint[], ARRAY['x'], ARRAY[repeat('0', 64)])`,
		`SET ROLE authenticated; SELECT wrapped FROM polybot_audit_key`,
		`SET ROLE polybot_app; SELECT wrapped FROM polybot_audit_key`,
		`SET ROLE polybot_service; DELETE FROM polybot_audit_key`,
		`DELETE FROM polybot_audit_key`,
	} {
		if _, err := conn.Exec(ctx, q); err == nil {
			t.Errorf("%s: no error after keying", q)
		}
		execAll(t, conn, `RESET ROLE`)
	}
}

func TestAuditVerifyDetectsForgeryInRawSQL(t *testing.T) {
	setup := func(t *testing.T) (*postgres.DB, *pgx.Conn) {
		d := pgtest.NewDatabase(t)
		db := d.Open(t, nil)
		keyAuditChain(t, db)
		u := seedTenant(t, db, "victim@example.com") // appends one entry
		for i := range 3 {
			if err := db.Admin(context.Background(), func(tx polybot.AdminTx) error {
				return tx.AppendAudit(&polybot.AuditEntry{UserID: &u, Actor: "cli", Action: polybot.AuditAdminTier, Target: fmt.Sprint(i)})
			}); err != nil {
				t.Fatal(err)
			}
		}
		if rep := verifyAudit(t, db); !rep.OK || rep.Entries != 5 {
			t.Fatalf("fresh chain: %+v", rep)
		}
		conn := d.Conn(t)
		// A database superuser switches the append-only triggers off.
		execAll(t, conn, `SET session_replication_role = replica`)
		return db, conn
	}
	t.Run("an edited row", func(t *testing.T) {
		db, conn := setup(t)
		execAll(t, conn, `UPDATE polybot_audit_log SET details = '{"tier":"enterprise"}' WHERE seq = 3`)
		rep := verifyAudit(t, db)
		if p := auditProblems(rep); rep.OK || len(p) != 1 || !strings.Contains(p[3], "MAC does not match") {
			t.Fatalf("edited row 3: %+v", rep)
		}
	})
	t.Run("a deleted row", func(t *testing.T) {
		db, conn := setup(t)
		execAll(t, conn, `DELETE FROM polybot_audit_log WHERE seq = 3`)
		rep := verifyAudit(t, db)
		if p := auditProblems(rep); rep.OK || !strings.Contains(p[4], "sequence gap") {
			t.Fatalf("deleted row 3: %+v", rep)
		}
	})
	t.Run("a whole chain recomputed with SHA-256 by hand in SQL", func(t *testing.T) {
		db, conn := setup(t)
		// ComputeHash's canonical form, written in PL/pgSQL: what anyone who
		// reads the source can do.
		execAll(t, conn, `DO $$
DECLARE
	r record;
	prev text := repeat('0', 64);
	h text;
BEGIN
	FOR r IN SELECT * FROM polybot_audit_log ORDER BY seq LOOP
		IF r.seq = 3 THEN r.details := '{"tier":"enterprise"}'; END IF;
		h := encode(sha256(convert_to(
			prev || E'\n' || r.seq || E'\n' || coalesce(r.user_id::text, '') ||
			E'\n' || octet_length(r.actor) || ':' || r.actor ||
			E'\n' || octet_length(r.action) || ':' || r.action ||
			E'\n' || octet_length(r.target) || ':' || r.target ||
			E'\n' || octet_length(r.details) || ':' || r.details ||
			E'\n' || (extract(epoch FROM r.created_at) * 1000000)::bigint, 'UTF8')), 'hex');
		UPDATE polybot_audit_log SET details = r.details, prev_hash = prev, hash = h WHERE seq = r.seq;
		prev := h;
	END LOOP;
	UPDATE polybot_audit_head SET hash = prev;
END $$`)
		rep := verifyAudit(t, db)
		p := auditProblems(rep)
		for seq := int64(1); seq <= 5; seq++ {
			if !strings.Contains(p[seq], "plain SHA-256") {
				t.Fatalf("row %d of the SHA-256 chain not named as such: %+v", seq, rep)
			}
		}
	})
	t.Run("an entry forged with another key", func(t *testing.T) {
		db, conn := setup(t)
		var seq int64
		var hash string
		if err := conn.QueryRow(context.Background(), `SELECT seq, hash FROM polybot_audit_head`).Scan(&seq, &hash); err != nil {
			t.Fatal(err)
		}
		f := &polybot.AuditEntry{Actor: "admin:forged", Action: polybot.AuditAdminTier, Target: "user:x", CreatedAt: time.Now()}
		if err := f.Seal(seq, hash, storetest.OtherAuditKey()); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(context.Background(), `INSERT INTO polybot_audit_log (seq, actor, action, target, details, created_at, prev_hash, hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, f.Seq, f.Actor, f.Action, f.Target, f.Details, f.CreatedAt, f.PrevHash, f.Hash); err != nil {
			t.Fatal(err)
		}
		execAll(t, conn, fmt.Sprintf(`UPDATE polybot_audit_head SET seq = %d, hash = '%s'`, f.Seq, f.Hash))
		rep := verifyAudit(t, db)
		if p := auditProblems(rep); rep.OK || len(p) != 1 || !strings.Contains(p[f.Seq], "MAC does not match") {
			t.Fatalf("forged row %d: %+v", f.Seq, rep)
		}
	})
}
