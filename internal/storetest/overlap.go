package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

func kalshiMarket(ticker string) polybot.BinaryMarket {
	return polybot.BinaryMarket{Yes: polybot.Instrument{Venue: polybot.Kalshi, Market: ticker, Outcome: polybot.Yes},
		No: polybot.Instrument{Venue: polybot.Kalshi, Market: ticker, Outcome: polybot.No}}
}

func polymarketMarket(cond, yes, no string) polybot.BinaryMarket {
	return polybot.BinaryMarket{Yes: polybot.Instrument{Venue: polybot.Polymarket, Market: cond, Token: yes, Outcome: polybot.Yes},
		No: polybot.Instrument{Venue: polybot.Polymarket, Market: cond, Token: no, Outcome: polybot.No}}
}

// kalshiSet is a Kalshi event of n outcomes, each on its own market.
func kalshiSet(id string, n int) *polybot.OutcomeSet {
	s := &polybot.OutcomeSet{ID: id, Name: "Set " + id, Venue: polybot.Kalshi, Event: "KX-" + id, Exhaustive: true,
		ResolutionNotes: "One of them resolves Yes."}
	for i := range n {
		s.Outcomes = append(s.Outcomes, polybot.SetOutcome{Label: fmt.Sprintf("Outcome %d", i),
			Markets: []polybot.BinaryMarket{kalshiMarket(fmt.Sprintf("KX-%s-%02d", id, i))}})
	}
	return s
}

// polymarketSet is a Polymarket negRisk event of n outcomes.
func polymarketSet(id string, n int) *polybot.OutcomeSet {
	s := &polybot.OutcomeSet{ID: id, Name: "Set " + id, Venue: polybot.Polymarket, Event: "0xneg-" + id, Exhaustive: true}
	for i := range n {
		s.Outcomes = append(s.Outcomes, polybot.SetOutcome{Label: fmt.Sprintf("Outcome %d", i),
			Markets: []polybot.BinaryMarket{polymarketMarket(fmt.Sprintf("0x%s%02d", id, i), fmt.Sprintf("%s-%d-yes", id, i), fmt.Sprintf("%s-%d-no", id, i))}})
	}
	return s
}

// twentyOutcomes is a Kalshi event of 20 outcomes, each also matched on
// Polymarket through a pair: the largest shape the registry sees in
// practice, with the text JSON must carry untouched (78-digit token ids,
// quotes, backslashes, accents, CJK and emoji).
func twentyOutcomes() *polybot.OutcomeSet {
	s := &polybot.OutcomeSet{ID: "fed-chair-2026", Name: `Next Fed chair: "who?" \ 次の議長 ✓`, Venue: polybot.Kalshi,
		Event: "KXFEDCHAIRNOM-26", Exhaustive: true,
		ResolutionNotes: "Kalshi: the person nominated by 2026-01-31.\nPolymarket: the same, per the White House's announcement; 'no nominee' is its own outcome."}
	for i := range 20 {
		token := func(side int) string { return fmt.Sprintf("%078d", uint64(i)*1_000_003+uint64(side)) }
		s.Outcomes = append(s.Outcomes, polybot.SetOutcome{
			Label: fmt.Sprintf("Candidate %02d — Jérôme \"J\" Powell-%d 🎯", i, i),
			Markets: []polybot.BinaryMarket{
				kalshiMarket(fmt.Sprintf("KXFEDCHAIRNOM-26-C%02d", i)),
				polymarketMarket(fmt.Sprintf("0x%064x", i+1), token(1), token(2)),
			},
			PairID: fmt.Sprintf("fed-chair-%02d", i),
		})
	}
	return s
}

// implication is "A implies B" over two Kalshi ladder markets.
func implication(id string) *polybot.Relation {
	return &polybot.Relation{ID: id, Name: "Above 3.875% implies above 3.625%", Kind: polybot.RelationImplies,
		A: kalshiMarket("KXFED-25DEC-T3.875"), B: polymarketMarket("0xladder", "3625-yes", "3625-no"),
		ResolutionNotes: "Both read the same upper bound."}
}

func equivalence(id, a, b string) *polybot.Relation {
	return &polybot.Relation{ID: id, Name: "Same event on both venues", Kind: polybot.RelationEquivalent, SetA: a, SetB: b,
		ResolutionNotes: "Both list the outcomes in the same order."}
}

// testOverlap checks the overlap registry: outcome sets and relations are
// created, read, listed by id, updated (CreatedAt kept) and deleted alike on
// every store, their JSON round-trips exactly, bad input is the same
// EINVALID naming the field, and a set a relation names cannot be deleted.
func testOverlap(t *testing.T, open Opener) {
	t.Run("a new store holds no outcome sets and no relations", func(t *testing.T) {
		e := newEnv(t, open)
		e.mustAdminView(func(tx polybot.AdminTx) error {
			sets, err := tx.OutcomeSets()
			if err != nil || sets == nil || len(sets) != 0 {
				t.Errorf("OutcomeSets = %v, %v; want an empty list", sets, err)
			}
			rels, err := tx.Relations()
			if err != nil || rels == nil || len(rels) != 0 {
				t.Errorf("Relations = %v, %v; want an empty list", rels, err)
			}
			return nil
		})
	})

	t.Run("PutOutcomeSet creates and updates keeping CreatedAt; OutcomeSets lists by id; DeleteOutcomeSet removes", func(t *testing.T) {
		e := newEnv(t, open)
		b, a := kalshiSet("b-set", 3), polymarketSet("a-set", 2)
		e.mustAdmin(func(tx polybot.AdminTx) error {
			if err := tx.PutOutcomeSet(b); err != nil {
				return err
			}
			return tx.PutOutcomeSet(a)
		})
		if !b.CreatedAt.Equal(T0) || !b.UpdatedAt.Equal(T0) {
			t.Fatalf("PutOutcomeSet set created %v updated %v, want %v", b.CreatedAt, b.UpdatedAt, T0)
		}
		now := e.clock.Advance(time.Hour)
		upd := *b
		upd.Name, upd.Approved, upd.Exhaustive, upd.CreatedAt = "B, approved", true, false, time.Time{}
		upd.Outcomes = append(append([]polybot.SetOutcome(nil), b.Outcomes...), polybot.SetOutcome{Label: "Other",
			Markets: []polybot.BinaryMarket{kalshiMarket("KX-b-set-other")}})
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.PutOutcomeSet(&upd) })
		if !upd.CreatedAt.Equal(T0) || !upd.UpdatedAt.Equal(now) {
			t.Fatalf("update set created %v updated %v, want %v and %v", upd.CreatedAt, upd.UpdatedAt, T0, now)
		}
		e.mustAdminView(func(tx polybot.AdminTx) error {
			got, err := tx.OutcomeSet("b-set")
			if err != nil {
				return err
			}
			wantEqual(t, "updated set", &upd, got)
			all, err := tx.OutcomeSets()
			if err != nil {
				return err
			}
			if len(all) != 2 || all[0].ID != "a-set" || all[1].ID != "b-set" {
				t.Fatalf("OutcomeSets = %v; want a-set then b-set", all)
			}
			wantEqual(t, "listed a-set", a, all[0])
			wantEqual(t, "listed b-set", &upd, all[1])
			return nil
		})
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.DeleteOutcomeSet("b-set") })
		wantCode(t, e.admin(func(tx polybot.AdminTx) error { return tx.DeleteOutcomeSet("b-set") }), polybot.ENOTFOUND, "DeleteOutcomeSet twice")
		wantCode(t, e.adminView(func(tx polybot.AdminTx) error { _, err := tx.OutcomeSet("b-set"); return err }), polybot.ENOTFOUND, "OutcomeSet(deleted)")
	})

	t.Run("a 20-outcome set matched on both venues round-trips exactly", func(t *testing.T) {
		e := newEnv(t, open)
		s := twentyOutcomes()
		if err := s.Validate(); err != nil {
			t.Fatalf("the fixture is not a valid set: %v", err)
		}
		want := *s
		want.Outcomes = append([]polybot.SetOutcome(nil), s.Outcomes...)
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.PutOutcomeSet(s) })
		want.CreatedAt, want.UpdatedAt = T0, T0
		e.mustAdminView(func(tx polybot.AdminTx) error {
			got, err := tx.OutcomeSet(s.ID)
			if err != nil {
				return err
			}
			wantEqual(t, "20-outcome set", &want, got)
			if len(got.Outcomes) != 20 || len(got.Outcomes[19].Markets) != 2 || got.Outcomes[19].Markets[1].No.Token != s.Outcomes[19].Markets[1].No.Token {
				t.Fatalf("read back %d outcomes, the last %+v", len(got.Outcomes), got.Outcomes[len(got.Outcomes)-1])
			}
			return nil
		})
	})

	t.Run("PutRelation stores implications and equivalences; Relations lists by id; update keeps CreatedAt; DeleteRelation removes", func(t *testing.T) {
		e := newEnv(t, open)
		e.mustAdmin(func(tx polybot.AdminTx) error {
			if err := tx.PutOutcomeSet(kalshiSet("k-fed", 3)); err != nil {
				return err
			}
			return tx.PutOutcomeSet(polymarketSet("p-fed", 3))
		})
		imp, eq := implication("z-ladder"), equivalence("m-fed", "k-fed", "p-fed")
		eq.Approved = true
		e.mustAdmin(func(tx polybot.AdminTx) error {
			if err := tx.PutRelation(imp); err != nil {
				return err
			}
			return tx.PutRelation(eq)
		})
		if !imp.CreatedAt.Equal(T0) || !eq.UpdatedAt.Equal(T0) {
			t.Fatalf("PutRelation set created %v updated %v, want %v", imp.CreatedAt, eq.UpdatedAt, T0)
		}
		e.mustAdminView(func(tx polybot.AdminTx) error {
			all, err := tx.Relations()
			if err != nil {
				return err
			}
			if len(all) != 2 {
				t.Fatalf("Relations = %v; want two", all)
			}
			wantEqual(t, "listed equivalence", eq, all[0])
			wantEqual(t, "listed implication", imp, all[1])
			return nil
		})

		now := e.clock.Advance(time.Hour)
		upd := *imp
		upd.Approved, upd.ResolutionNotes, upd.CreatedAt = true, "Re-read: same bound, same source.", time.Time{}
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.PutRelation(&upd) })
		if !upd.CreatedAt.Equal(T0) || !upd.UpdatedAt.Equal(now) {
			t.Fatalf("update set created %v updated %v, want %v and %v", upd.CreatedAt, upd.UpdatedAt, T0, now)
		}
		// An implication may become an equivalence: it keeps no markets.
		swapped := equivalence("z-ladder", "p-fed", "k-fed")
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.PutRelation(swapped) })
		e.mustAdminView(func(tx polybot.AdminTx) error {
			got, err := tx.Relation("z-ladder")
			if err != nil {
				return err
			}
			wantEqual(t, "implication turned equivalence", swapped, got)
			if !got.CreatedAt.Equal(T0) {
				t.Errorf("CreatedAt = %v, want %v", got.CreatedAt, T0)
			}
			return nil
		})
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.PutRelation(&upd) })
		e.mustAdminView(func(tx polybot.AdminTx) error {
			got, err := tx.Relation("z-ladder")
			if err == nil {
				wantEqual(t, "equivalence turned implication", &upd, got)
			}
			return err
		})

		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.DeleteRelation("z-ladder") })
		wantCode(t, e.admin(func(tx polybot.AdminTx) error { return tx.DeleteRelation("z-ladder") }), polybot.ENOTFOUND, "DeleteRelation twice")
		wantCode(t, e.adminView(func(tx polybot.AdminTx) error { _, err := tx.Relation("z-ladder"); return err }), polybot.ENOTFOUND, "Relation(deleted)")
	})

	t.Run("a set a relation names cannot be deleted until the relation is gone", func(t *testing.T) {
		e := newEnv(t, open)
		e.mustAdmin(func(tx polybot.AdminTx) error {
			for _, s := range []*polybot.OutcomeSet{kalshiSet("k-fed", 2), polymarketSet("p-fed", 2), polymarketSet("p-other", 2)} {
				if err := tx.PutOutcomeSet(s); err != nil {
					return err
				}
			}
			if err := tx.PutRelation(equivalence("fed-eq", "k-fed", "p-fed")); err != nil {
				return err
			}
			return tx.PutRelation(equivalence("fed-eq-2", "p-other", "k-fed"))
		})
		err := e.admin(func(tx polybot.AdminTx) error { return tx.DeleteOutcomeSet("k-fed") })
		wantCode(t, err, polybot.ECONFLICT, "DeleteOutcomeSet of a set two relations name")
		if msg := polybot.ErrorMessage(err); !strings.Contains(msg, `"fed-eq"`) || !strings.Contains(msg, `"fed-eq-2"`) {
			t.Errorf("conflict message %q does not name both relations", msg)
		}
		wantCode(t, e.admin(func(tx polybot.AdminTx) error { return tx.DeleteOutcomeSet("p-fed") }), polybot.ECONFLICT, "DeleteOutcomeSet(set_b)")
		e.mustAdminView(func(tx polybot.AdminTx) error {
			sets, err := tx.OutcomeSets()
			if err == nil && len(sets) != 3 {
				t.Errorf("OutcomeSets after refused deletes = %d sets, want 3", len(sets))
			}
			return err
		})
		e.mustAdmin(func(tx polybot.AdminTx) error {
			if err := tx.DeleteRelation("fed-eq"); err != nil {
				return err
			}
			return tx.DeleteOutcomeSet("p-fed")
		})
		wantCode(t, e.admin(func(tx polybot.AdminTx) error { return tx.DeleteOutcomeSet("k-fed") }), polybot.ECONFLICT, "DeleteOutcomeSet while fed-eq-2 names it")
		e.mustAdmin(func(tx polybot.AdminTx) error {
			if err := tx.DeleteRelation("fed-eq-2"); err != nil {
				return err
			}
			return tx.DeleteOutcomeSet("k-fed")
		})
	})

	t.Run("an approved equivalence is held to two venues and one outcome count at every PutRelation", func(t *testing.T) {
		e := newEnv(t, open)
		k, p := kalshiSet("k-fed", 2), polymarketSet("p-fed", 2)
		e.mustAdmin(func(tx polybot.AdminTx) error {
			for _, s := range []*polybot.OutcomeSet{k, p, kalshiSet("k-other", 2)} {
				if err := tx.PutOutcomeSet(s); err != nil {
					return err
				}
			}
			eq := equivalence("fed-eq", "k-fed", "p-fed")
			eq.Approved = true
			return tx.PutRelation(eq)
		})
		// A venue adds an outcome: the set is updated, never blocked.
		k.Outcomes = append(k.Outcomes, polybot.SetOutcome{Label: "New", Markets: []polybot.BinaryMarket{kalshiMarket("KX-k-fed-new")}})
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.PutOutcomeSet(k) })
		eq := equivalence("fed-eq", "k-fed", "p-fed")
		eq.Approved = true
		err := e.admin(func(tx polybot.AdminTx) error { return tx.PutRelation(eq) })
		wantCode(t, err, polybot.EINVALID, "re-approving an equivalence of 3 and 2 outcomes")
		if polybot.ErrorFields(err)["set_b"] == "" {
			t.Fatalf("%v does not name set_b", err)
		}
		eq.Approved = false
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.PutRelation(eq) }) // withdrawing always works
		same := equivalence("same-venue", "k-fed", "k-other")
		same.Approved = true
		err = e.admin(func(tx polybot.AdminTx) error { return tx.PutRelation(same) })
		wantCode(t, err, polybot.EINVALID, "approving an equivalence of two Kalshi sets")
		if polybot.ErrorFields(err)["set_b"] == "" {
			t.Fatalf("%v does not name set_b", err)
		}
	})

	t.Run("bad outcome sets and relations are EINVALID naming the field, and nothing is stored", func(t *testing.T) {
		e := newEnv(t, open)
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.PutOutcomeSet(kalshiSet("k-fed", 2)) })
		sets := []struct {
			name, field string
			edit        func(s *polybot.OutcomeSet)
		}{
			{"no name", "name", func(s *polybot.OutcomeSet) { s.Name = "" }},
			{"an id over 64 characters", "id", func(s *polybot.OutcomeSet) { s.ID = strings.Repeat("x", 65) }},
			{"an unknown venue", "venue", func(s *polybot.OutcomeSet) { s.Venue = polybot.Alpaca }},
			{"one outcome", "outcomes", func(s *polybot.OutcomeSet) { s.Outcomes = s.Outcomes[:1] }},
			{"an outcome without a label", "outcomes[1].label", func(s *polybot.OutcomeSet) { s.Outcomes[1].Label = "" }},
			{"a market on another venue first", "outcomes[0].markets[0]", func(s *polybot.OutcomeSet) {
				s.Outcomes[0].Markets[0] = polymarketMarket("0xc", "y", "n")
			}},
			{"an instrument in two outcomes", "outcomes[1].markets[0]", func(s *polybot.OutcomeSet) {
				s.Outcomes[1].Markets[0] = s.Outcomes[0].Markets[0]
			}},
			{"two venues' markets without a pair", "outcomes[0].pair_id", func(s *polybot.OutcomeSet) {
				s.Outcomes[0].Markets = append(s.Outcomes[0].Markets, polymarketMarket("0xc", "y", "n"))
			}},
			{"notes over 4000 characters", "resolution_notes", func(s *polybot.OutcomeSet) { s.ResolutionNotes = strings.Repeat("n", 4001) }},
		}
		for _, c := range sets {
			t.Run("PutOutcomeSet with "+c.name, func(t *testing.T) {
				s := kalshiSet("new-set", 2)
				c.edit(s)
				err := e.admin(func(tx polybot.AdminTx) error { return tx.PutOutcomeSet(s) })
				wantCode(t, err, polybot.EINVALID, c.name)
				if polybot.ErrorFields(err)[c.field] == "" {
					t.Fatalf("%v does not name %q", err, c.field)
				}
			})
		}
		rels := []struct {
			name, field string
			r           *polybot.Relation
		}{
			{"an unknown kind", "kind", func() *polybot.Relation { r := implication("r"); r.Kind = "excludes"; return r }()},
			{"no name", "name", func() *polybot.Relation { r := implication("r"); r.Name = ""; return r }()},
			{"an implication of a market by itself", "b", func() *polybot.Relation { r := implication("r"); r.B = r.A; return r }()},
			{"an implication without B's NO", "b.no", func() *polybot.Relation { r := implication("r"); r.B.No = polybot.Instrument{}; return r }()},
			{"an implication naming a set", "set_a", func() *polybot.Relation { r := implication("r"); r.SetA = "k-fed"; return r }()},
			{"an equivalence naming a market", "a", func() *polybot.Relation {
				r := equivalence("r", "k-fed", "p-fed")
				r.A = kalshiMarket("KX-1")
				return r
			}()},
			{"an equivalence of an unknown set", "set_b", equivalence("r", "k-fed", "no-such-set")},
			{"an equivalence of two unknown sets", "set_a", equivalence("r", "nope-a", "nope-b")},
			{"an equivalence of a set with itself", "set_b", equivalence("r", "k-fed", "k-fed")},
		}
		for _, c := range rels {
			t.Run("PutRelation with "+c.name, func(t *testing.T) {
				err := e.admin(func(tx polybot.AdminTx) error { return tx.PutRelation(c.r) })
				wantCode(t, err, polybot.EINVALID, c.name)
				if polybot.ErrorFields(err)[c.field] == "" {
					t.Fatalf("%v does not name %q", err, c.field)
				}
			})
		}
		e.mustAdminView(func(tx polybot.AdminTx) error {
			s, err := tx.OutcomeSets()
			if err != nil || len(s) != 1 {
				t.Errorf("OutcomeSets = %v, %v; want only k-fed", s, err)
			}
			r, err := tx.Relations()
			if err != nil || len(r) != 0 {
				t.Errorf("Relations = %v, %v; want none", r, err)
			}
			return nil
		})
	})

	t.Run("overlap writes roll back with the transaction", func(t *testing.T) {
		e := newEnv(t, open)
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.PutOutcomeSet(kalshiSet("kept", 2)) })
		err := e.admin(func(tx polybot.AdminTx) error {
			steps := []func() error{
				func() error { return tx.PutOutcomeSet(polymarketSet("rolled-back", 2)) },
				func() error { return tx.PutRelation(equivalence("rolled-back-eq", "kept", "rolled-back")) },
				func() error { return tx.PutRelation(implication("rolled-back-imp")) },
				func() error { return tx.DeleteRelation("rolled-back-imp") },
			}
			for i, s := range steps {
				if err := s(); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatalf("Admin returned %v, want fn's error", err)
		}
		e.mustAdminView(func(tx polybot.AdminTx) error {
			s, err := tx.OutcomeSets()
			if err != nil || len(s) != 1 || s[0].ID != "kept" {
				t.Errorf("OutcomeSets = %v, %v; want only kept", s, err)
			}
			r, err := tx.Relations()
			if err != nil || len(r) != 0 {
				t.Errorf("Relations = %v, %v; want none", r, err)
			}
			return nil
		})
	})
}
