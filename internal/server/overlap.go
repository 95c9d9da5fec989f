package server

import (
	"encoding/json"
	"net/http"

	"github.com/polybot/polybot"
)

// The overlap registry's admin API: outcome sets and relations, kept like
// the matched-market registry (bot.go). Every change is appended to the
// audit chain in the same transaction; approving is a PUT with
// "approved": true, as for pairs. Both kinds of entry go through one
// registry[T] (list, get, put, delete), which differ only in the store's
// methods and the names they are audited and listed under.

// registry is one kind of overlap-registry entry as the admin API serves it.
type registry[T any] struct {
	kind    string // audit action "admin.<kind>" and target "<kind>:<id>"
	listKey string // the list's JSON key
	list    func(polybot.AdminTx) ([]*T, error)
	get     func(polybot.AdminTx, string) (*T, error)
	put     func(polybot.AdminTx, *T) error
	del     func(polybot.AdminTx, string) error
	parse   func(body []byte, id string) (*T, error)
	id      func(*T) string
}

var outcomeSets = registry[polybot.OutcomeSet]{
	kind: "outcome_set", listKey: "outcome_sets",
	list: polybot.AdminTx.OutcomeSets, get: polybot.AdminTx.OutcomeSet,
	put: polybot.AdminTx.PutOutcomeSet, del: polybot.AdminTx.DeleteOutcomeSet,
	parse: parseOutcomeSet, id: func(s *polybot.OutcomeSet) string { return s.ID },
}

var relations = registry[polybot.Relation]{
	kind: "relation", listKey: "relations",
	list: polybot.AdminTx.Relations, get: polybot.AdminTx.Relation,
	put: polybot.AdminTx.PutRelation, del: polybot.AdminTx.DeleteRelation,
	parse: parseRelation, id: func(r *polybot.Relation) string { return r.ID },
}

func (s *Server) handleAdminOutcomeSets(w http.ResponseWriter, r *http.Request, _ *identity) error {
	return outcomeSets.listAll(s, w, r)
}

func (s *Server) handleAdminOutcomeSet(w http.ResponseWriter, r *http.Request, _ *identity) error {
	return outcomeSets.getOne(s, w, r)
}

func (s *Server) handleAdminPutOutcomeSet(w http.ResponseWriter, r *http.Request, id *identity) error {
	return outcomeSets.putOne(s, w, r, id)
}

func (s *Server) handleAdminDeleteOutcomeSet(w http.ResponseWriter, r *http.Request, id *identity) error {
	return outcomeSets.deleteOne(s, w, r, id)
}

func (s *Server) handleAdminRelations(w http.ResponseWriter, r *http.Request, _ *identity) error {
	return relations.listAll(s, w, r)
}

func (s *Server) handleAdminRelation(w http.ResponseWriter, r *http.Request, _ *identity) error {
	return relations.getOne(s, w, r)
}

func (s *Server) handleAdminPutRelation(w http.ResponseWriter, r *http.Request, id *identity) error {
	return relations.putOne(s, w, r, id)
}

func (s *Server) handleAdminDeleteRelation(w http.ResponseWriter, r *http.Request, id *identity) error {
	return relations.deleteOne(s, w, r, id)
}

func (g registry[T]) listAll(s *Server, w http.ResponseWriter, r *http.Request) error {
	var out []*T
	err := s.cfg.Store.AdminView(r.Context(), func(tx polybot.AdminTx) (err error) {
		out, err = g.list(tx)
		return err
	})
	if err != nil {
		return err
	}
	if out == nil {
		out = []*T{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{g.listKey: out})
}

func (g registry[T]) getOne(s *Server, w http.ResponseWriter, r *http.Request) error {
	eid := r.PathValue("id")
	if err := polybot.CheckOverlapID(eid); err != nil {
		return err
	}
	var out *T
	err := s.cfg.Store.AdminView(r.Context(), func(tx polybot.AdminTx) (err error) {
		out, err = g.get(tx, eid)
		return err
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

func (g registry[T]) putOne(s *Server, w http.ResponseWriter, r *http.Request, id *identity) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	e, err := g.parse(body, r.PathValue("id"))
	if err != nil {
		return err
	}
	d, _ := json.Marshal(e)
	err = s.cfg.Store.Admin(r.Context(), func(tx polybot.AdminTx) error {
		if err := g.put(tx, e); err != nil {
			return err
		}
		return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: "admin." + g.kind, Target: g.kind + ":" + g.id(e),
			Details: string(d), CreatedAt: tx.Now()})
	})
	if err != nil {
		return err
	}
	s.reloadRegistry(r)
	return writeJSON(w, http.StatusOK, e)
}

func (g registry[T]) deleteOne(s *Server, w http.ResponseWriter, r *http.Request, id *identity) error {
	eid := r.PathValue("id")
	if err := polybot.CheckOverlapID(eid); err != nil {
		return err
	}
	err := s.cfg.Store.Admin(r.Context(), func(tx polybot.AdminTx) error {
		if err := g.del(tx, eid); err != nil {
			return err
		}
		return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: "admin." + g.kind + "_delete", Target: g.kind + ":" + eid,
			Details: "{}", CreatedAt: tx.Now()})
	})
	if err != nil {
		return err
	}
	s.reloadRegistry(r)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
