package server

import (
	"encoding/json"
	"net/http"

	"github.com/polybot/polybot"
)

// The overlap registry's admin API: outcome sets and relations, kept like
// the matched-market registry (bot.go). Every change is appended to the
// audit chain in the same transaction; approving is a PUT with
// "approved": true, as for pairs.

func (s *Server) handleAdminOutcomeSets(w http.ResponseWriter, r *http.Request, _ *identity) error {
	var out []*polybot.OutcomeSet
	err := s.cfg.Store.AdminView(r.Context(), func(tx polybot.AdminTx) (err error) {
		out, err = tx.OutcomeSets()
		return err
	})
	if err != nil {
		return err
	}
	if out == nil {
		out = []*polybot.OutcomeSet{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"outcome_sets": out})
}

func (s *Server) handleAdminOutcomeSet(w http.ResponseWriter, r *http.Request, _ *identity) error {
	sid := r.PathValue("id")
	if err := polybot.CheckOverlapID(sid); err != nil {
		return err
	}
	var out *polybot.OutcomeSet
	err := s.cfg.Store.AdminView(r.Context(), func(tx polybot.AdminTx) (err error) {
		out, err = tx.OutcomeSet(sid)
		return err
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleAdminPutOutcomeSet(w http.ResponseWriter, r *http.Request, id *identity) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	set, err := parseOutcomeSet(body, r.PathValue("id"))
	if err != nil {
		return err
	}
	d, _ := json.Marshal(set)
	err = s.cfg.Store.Admin(r.Context(), func(tx polybot.AdminTx) error {
		if err := tx.PutOutcomeSet(set); err != nil {
			return err
		}
		return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: "admin.outcome_set", Target: "outcome_set:" + set.ID,
			Details: string(d), CreatedAt: tx.Now()})
	})
	if err != nil {
		return err
	}
	s.reloadRegistry(r)
	return writeJSON(w, http.StatusOK, set)
}

func (s *Server) handleAdminDeleteOutcomeSet(w http.ResponseWriter, r *http.Request, id *identity) error {
	sid := r.PathValue("id")
	if err := polybot.CheckOverlapID(sid); err != nil {
		return err
	}
	err := s.cfg.Store.Admin(r.Context(), func(tx polybot.AdminTx) error {
		if err := tx.DeleteOutcomeSet(sid); err != nil {
			return err
		}
		return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: "admin.outcome_set_delete", Target: "outcome_set:" + sid,
			Details: "{}", CreatedAt: tx.Now()})
	})
	if err != nil {
		return err
	}
	s.reloadRegistry(r)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleAdminRelations(w http.ResponseWriter, r *http.Request, _ *identity) error {
	var out []*polybot.Relation
	err := s.cfg.Store.AdminView(r.Context(), func(tx polybot.AdminTx) (err error) {
		out, err = tx.Relations()
		return err
	})
	if err != nil {
		return err
	}
	if out == nil {
		out = []*polybot.Relation{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"relations": out})
}

func (s *Server) handleAdminRelation(w http.ResponseWriter, r *http.Request, _ *identity) error {
	rid := r.PathValue("id")
	if err := polybot.CheckOverlapID(rid); err != nil {
		return err
	}
	var out *polybot.Relation
	err := s.cfg.Store.AdminView(r.Context(), func(tx polybot.AdminTx) (err error) {
		out, err = tx.Relation(rid)
		return err
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleAdminPutRelation(w http.ResponseWriter, r *http.Request, id *identity) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	rel, err := parseRelation(body, r.PathValue("id"))
	if err != nil {
		return err
	}
	d, _ := json.Marshal(rel)
	err = s.cfg.Store.Admin(r.Context(), func(tx polybot.AdminTx) error {
		if err := tx.PutRelation(rel); err != nil {
			return err
		}
		return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: "admin.relation", Target: "relation:" + rel.ID,
			Details: string(d), CreatedAt: tx.Now()})
	})
	if err != nil {
		return err
	}
	s.reloadRegistry(r)
	return writeJSON(w, http.StatusOK, rel)
}

func (s *Server) handleAdminDeleteRelation(w http.ResponseWriter, r *http.Request, id *identity) error {
	rid := r.PathValue("id")
	if err := polybot.CheckOverlapID(rid); err != nil {
		return err
	}
	err := s.cfg.Store.Admin(r.Context(), func(tx polybot.AdminTx) error {
		if err := tx.DeleteRelation(rid); err != nil {
			return err
		}
		return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: "admin.relation_delete", Target: "relation:" + rid,
			Details: "{}", CreatedAt: tx.Now()})
	})
	if err != nil {
		return err
	}
	s.reloadRegistry(r)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
