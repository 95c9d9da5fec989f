package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

func testAudit(t *testing.T, open Opener) {
	t.Run("AppendAudit in a tenant transaction seals the entry and records the tenant", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("audit@example.com")
		// Odd spacing and key order: details are hashed as stored text, so
		// the store must keep them byte for byte (no JSONB normalisation).
		details := `{"b": 1,  "a":[2,3], "note":"ünïcode"}`
		entry := &polybot.AuditEntry{Actor: u.ID.String(), Action: polybot.AuditConfigUpdate, Target: "config", Details: details}
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.AppendAudit(entry) })
		if entry.Seq != 1 || entry.UserID == nil || *entry.UserID != u.ID || entry.PrevHash != polybot.GenesisHash ||
			entry.Hash == "" || entry.CreatedAt.IsZero() {
			t.Fatalf("appended entry = %+v", entry)
		}
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			trail, err := tx.AuditTrail(0, 10)
			if err != nil {
				t.Fatalf("AuditTrail: %v", err)
			}
			if len(trail) != 1 {
				t.Fatalf("AuditTrail = %d entries, want 1", len(trail))
			}
			wantEqual(t, "AuditTrail[0]", entry, trail[0])
			if trail[0].Details != details {
				t.Fatalf("details = %q, want the exact text %q", trail[0].Details, details)
			}
			return nil
		})
		seq, hash := e.auditHead()
		if seq != 1 || hash != entry.Hash {
			t.Fatalf("AuditHead = %d %s, want 1 %s", seq, hash, entry.Hash)
		}
	})

	t.Run("AppendAudit on the admin path keeps a nil user and chains onto the previous entry", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("audit@example.com")
		first := &polybot.AuditEntry{Actor: "cli", Action: polybot.AuditSignup, Target: u.ID.String(), UserID: &u.ID}
		second := &polybot.AuditEntry{Actor: "system", Action: polybot.AuditKeysRotate, Target: "master:2"}
		e.mustAdmin(func(tx polybot.AdminTx) error {
			if err := tx.AppendAudit(first); err != nil {
				return err
			}
			return tx.AppendAudit(second)
		})
		all := e.auditAll()
		if len(all) != 2 {
			t.Fatalf("AuditEntries = %d, want 2", len(all))
		}
		wantEqual(t, "entry 1", first, &all[0])
		wantEqual(t, "entry 2", second, &all[1])
		if all[1].UserID != nil || all[1].PrevHash != all[0].Hash || all[0].Details != "{}" {
			t.Fatalf("entries = %+v", all)
		}
		seq, hash := e.auditHead()
		if probs := polybot.VerifyAuditChain(all, seq, hash, TestAuditKey); len(probs) != 0 {
			t.Fatalf("VerifyAuditChain: %v", probs)
		}
	})

	t.Run("AuditTrail is newest first and pages with before; AuditEntries is oldest first and pages with after", func(t *testing.T) {
		e := newEnv(t, open)
		a := e.newUser("a@example.com")
		b := e.newUser("b@example.com")
		var mine []int64
		for i := range 6 {
			e.clock.Advance(time.Second)
			for _, u := range []*polybot.User{a, b} {
				entry := &polybot.AuditEntry{Actor: u.ID.String(), Action: polybot.AuditLogin, Target: fmt.Sprint(i)}
				e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.AppendAudit(entry) })
				if u == a {
					mine = append(mine, entry.Seq)
				}
			}
		}
		var got []int64
		e.mustTenantView(a.ID, func(tx polybot.TenantTx) error {
			before := int64(0)
			for range 10 {
				page, err := tx.AuditTrail(before, 4)
				if err != nil {
					t.Fatalf("AuditTrail(%d, 4): %v", before, err)
				}
				if len(page) > 4 {
					t.Fatalf("AuditTrail(%d, 4) returned %d", before, len(page))
				}
				if len(page) == 0 {
					return nil
				}
				for _, x := range page {
					got = append(got, x.Seq)
				}
				before = page[len(page)-1].Seq
			}
			return nil
		})
		if len(got) != len(mine) {
			t.Fatalf("AuditTrail seqs = %v, want %v reversed", got, mine)
		}
		for i := range got {
			if got[i] != mine[len(mine)-1-i] {
				t.Fatalf("AuditTrail seqs = %v, want %v reversed", got, mine)
			}
		}
		e.mustAdminView(func(tx polybot.AdminTx) error {
			page, err := tx.AuditEntries(5, 3)
			if err != nil || len(page) != 3 || page[0].Seq != 6 || page[2].Seq != 8 {
				t.Fatalf("AuditEntries(5, 3) = %v, %v; want seqs 6..8", page, err)
			}
			return nil
		})
		all := e.auditAll()
		seq, hash := e.auditHead()
		if len(all) != 12 || seq != 12 {
			t.Fatalf("%d entries, head %d; want 12", len(all), seq)
		}
		if probs := polybot.VerifyAuditChain(all, seq, hash, TestAuditKey); len(probs) != 0 {
			t.Fatalf("VerifyAuditChain: %v", probs)
		}
	})

	t.Run("concurrent AppendAudit from 16 goroutines x 20 leaves one unforked chain", func(t *testing.T) {
		e := newEnv(t, open)
		users := make([]*polybot.User, 4)
		for i := range users {
			users[i] = e.newUser(fmt.Sprintf("c%d@example.com", i))
		}
		const workers, each = 16, 20
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					entry := &polybot.AuditEntry{Actor: fmt.Sprint("worker-", w), Action: polybot.AuditSecretDecrypt,
						Target: fmt.Sprint(i), Details: fmt.Sprintf(`{"w":%d,"i":%d}`, w, i)}
					var err error
					if w%2 == 0 {
						err = e.tenant(users[w%len(users)].ID, func(tx polybot.TenantTx) error { return tx.AppendAudit(entry) })
					} else {
						err = e.admin(func(tx polybot.AdminTx) error { return tx.AppendAudit(entry) })
					}
					if err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("AppendAudit: %v", err)
		}
		all := e.auditAll()
		if len(all) != workers*each {
			t.Fatalf("%d entries, want %d", len(all), workers*each)
		}
		for i, x := range all {
			if x.Seq != int64(i+1) {
				t.Fatalf("entry %d has seq %d: seqs are not 1..N", i, x.Seq)
			}
		}
		seq, hash := e.auditHead()
		if seq != workers*each || hash != all[len(all)-1].Hash {
			t.Fatalf("AuditHead = %d %s, want %d %s", seq, hash, workers*each, all[len(all)-1].Hash)
		}
		if probs := polybot.VerifyAuditChain(all, seq, hash, TestAuditKey); len(probs) != 0 {
			t.Fatalf("VerifyAuditChain: %v", probs)
		}
	})

	t.Run("KeyAuditChain keys the chain once under the store's key; ReplaceAuditKey is a compare-and-swap", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("keyed@example.com")
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			return tx.AppendAudit(&polybot.AuditEntry{Actor: u.ID.String(), Action: polybot.AuditLogin})
		})
		e.mustAdminView(func(tx polybot.AdminTx) error {
			if _, err := tx.AuditKey(); polybot.ErrorCode(err) != polybot.ENOTFOUND {
				t.Fatalf("AuditKey before keying: %v, want ENOTFOUND", err)
			}
			return nil
		})
		before := e.auditAll()
		var n int64
		e.mustAdmin(func(tx polybot.AdminTx) error {
			var err error
			n, err = tx.KeyAuditChain(&polybot.AuditKeyRecord{MasterKeyID: "m1", Wrapped: []byte("w1")})
			return err
		})
		all := e.auditAll()
		if n != int64(len(before)) || len(all) != len(before)+1 || all[len(all)-1].Action != polybot.AuditKeyed {
			t.Fatalf("KeyAuditChain re-sealed %d of %d, then %d entries (last %+v)", n, len(before), len(all), all[len(all)-1])
		}
		seq, hash := e.auditHead()
		if probs := polybot.VerifyAuditChain(all, seq, hash, TestAuditKey); len(probs) != 0 {
			t.Fatalf("keyed chain: %v", probs)
		}
		err := e.admin(func(tx polybot.AdminTx) error {
			_, err := tx.KeyAuditChain(&polybot.AuditKeyRecord{MasterKeyID: "m1", Wrapped: []byte("w2")})
			return err
		})
		if polybot.ErrorCode(err) != polybot.ECONFLICT {
			t.Fatalf("keying twice: %v, want ECONFLICT", err)
		}
		e.mustAdmin(func(tx polybot.AdminTx) error {
			return tx.ReplaceAuditKey(&polybot.AuditKeyRecord{MasterKeyID: "m2", Wrapped: []byte("w2")}, []byte("w1"))
		})
		err = e.admin(func(tx polybot.AdminTx) error {
			return tx.ReplaceAuditKey(&polybot.AuditKeyRecord{MasterKeyID: "m3", Wrapped: []byte("w3")}, []byte("w1"))
		})
		if polybot.ErrorCode(err) != polybot.ECONFLICT {
			t.Fatalf("ReplaceAuditKey from a stale key: %v, want ECONFLICT", err)
		}
		e.mustAdminView(func(tx polybot.AdminTx) error {
			k, err := tx.AuditKey()
			if err != nil || k.MasterKeyID != "m2" || string(k.Wrapped) != "w2" || k.Resealed != n {
				t.Fatalf("AuditKey = %+v, %v", k, err)
			}
			return nil
		})
	})

	t.Run("AppendAudit without an audit key fails and writes nothing", func(t *testing.T) {
		e := newEnv(t, open)
		e.store.SetAuditKey(nil)
		err := e.admin(func(tx polybot.AdminTx) error {
			return tx.AppendAudit(&polybot.AuditEntry{Actor: "cli", Action: polybot.AuditAdminTier})
		})
		if err == nil {
			t.Fatal("AppendAudit without a key succeeded")
		}
		e.store.SetAuditKey(TestAuditKey)
		if all := e.auditAll(); len(all) != 0 {
			t.Fatalf("%d entries after a refused append", len(all))
		}
	})
}
