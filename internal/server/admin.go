package server

import (
	"encoding/json"
	"net/http"

	"github.com/polybot/polybot"
)

func (s *Server) handleTiers(w http.ResponseWriter, r *http.Request, _ *identity) error {
	var out []*polybot.Tier
	err := s.cfg.Store.AdminView(r.Context(), func(tx polybot.AdminTx) error {
		var err error
		out, err = tx.Tiers()
		return err
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"tiers": out})
}

func (s *Server) handleAdminUsers(w http.ResponseWriter, r *http.Request, _ *identity) error {
	after := r.URL.Query().Get("after")
	if err := polybot.CheckText("after", after, 254); err != nil {
		return err
	}
	_, limit, err := pageParams(r, "", 50, 500)
	if err != nil {
		return err
	}
	var out []*polybot.UserSummary
	err = s.cfg.Store.AdminView(r.Context(), func(tx polybot.AdminTx) error {
		var err error
		out, err = tx.Users(after, limit)
		return err
	})
	if err != nil {
		return err
	}
	if out == nil {
		out = []*polybot.UserSummary{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"users": out})
}

// adminUserAction runs fn on the user named in the path and audits it.
func (s *Server) adminUserAction(w http.ResponseWriter, r *http.Request, id *identity, action string, details any, fn func(tx polybot.AdminTx, target polybot.ID) error) error {
	target, err := polybot.ParseID(r.PathValue("id"))
	if err != nil {
		return polybot.NotFound("user")
	}
	d, _ := json.Marshal(details)
	var sum *polybot.UserSummary
	err = s.cfg.Store.Admin(r.Context(), func(tx polybot.AdminTx) error {
		if _, err := tx.UserByID(target); err != nil {
			return err
		}
		if err := fn(tx, target); err != nil {
			return err
		}
		if err := tx.AppendAudit(&polybot.AuditEntry{UserID: &target, Actor: id.actor(), Action: action, Target: "user:" + target.String(), Details: string(d), CreatedAt: tx.Now()}); err != nil {
			return err
		}
		u, err := tx.UserByID(target)
		if err != nil {
			return err
		}
		sum = &polybot.UserSummary{User: *u}
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, sum)
}

func (s *Server) handleAdminSetTier(w http.ResponseWriter, r *http.Request, id *identity) error {
	in, err := readRequest[setTierRequest](r)
	if err != nil {
		return err
	}
	return s.adminUserAction(w, r, id, polybot.AuditAdminTier, in, func(tx polybot.AdminTx, target polybot.ID) error {
		if _, err := tx.Tier(in.Tier); polybot.ErrorCode(err) == polybot.ENOTFOUND {
			return polybot.FieldError("tier", "no such tier")
		} else if err != nil {
			return err
		}
		return tx.SetUserTier(target, in.Tier)
	})
}

func (s *Server) handleAdminSetRole(w http.ResponseWriter, r *http.Request, id *identity) error {
	in, err := readRequest[setRoleRequest](r)
	if err != nil {
		return err
	}
	return s.adminUserAction(w, r, id, polybot.AuditAdminRole, in, func(tx polybot.AdminTx, target polybot.ID) error {
		if target == id.user.ID && in.Role != polybot.RoleAdmin {
			return polybot.FieldError("role", "you cannot remove your own admin role")
		}
		return tx.SetUserRole(target, in.Role)
	})
}

func (s *Server) handleAdminSetDisabled(w http.ResponseWriter, r *http.Request, id *identity) error {
	in, err := readRequest[setDisabledRequest](r)
	if err != nil {
		return err
	}
	return s.adminUserAction(w, r, id, polybot.AuditAdminUserState, in, func(tx polybot.AdminTx, target polybot.ID) error {
		if target == id.user.ID && *in.Disabled {
			return polybot.FieldError("disabled", "you cannot disable your own account")
		}
		return tx.SetUserDisabled(target, *in.Disabled)
	})
}

func (s *Server) handleAdminPutTier(w http.ResponseWriter, r *http.Request, id *identity) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	t, err := parseTier(body, r.PathValue("name"))
	if err != nil {
		return err
	}
	d, _ := json.Marshal(t)
	err = s.cfg.Store.Admin(r.Context(), func(tx polybot.AdminTx) error {
		t.UpdatedAt = tx.Now()
		if err := tx.PutTier(t); err != nil {
			return err
		}
		return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: polybot.AuditAdminTierEdit, Target: "tier:" + t.Name, Details: string(d), CreatedAt: tx.Now()})
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, t)
}

func (s *Server) handleAdminAuditVerify(w http.ResponseWriter, r *http.Request, _ *identity) error {
	var k polybot.AuditKey
	if s.cfg.AuditKey.Loaded() {
		k = s.cfg.AuditKey
	}
	rep, err := polybot.VerifyAuditLog(r.Context(), s.cfg.Store, k)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, rep)
}
