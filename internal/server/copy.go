package server

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/web"
)

// Copy trading's API: a user's leaders (the wallets the bot follows, with
// the user's sizing and guards), what the bot did with each leader trade
// (copies and skips with their reasons) and the P&L of each leader's
// copies. Every change is audited in its transaction and reloads the
// user's bot.

// leaderView is a leader as the API shows it: the staleness in seconds
// and the sizing in words.
type leaderView struct {
	*polybot.Leader
	MaxAgeSeconds int64  `json:"max_age_seconds"`
	Sizing        string `json:"sizing"`
}

func viewLeader(l *polybot.Leader) leaderView {
	return leaderView{Leader: l, MaxAgeSeconds: int64(l.MaxAge / time.Second), Sizing: l.Describe()}
}

// copyRecordView is a record with the leader's side as "BUY" or "SELL".
type copyRecordView struct {
	*polybot.CopyRecord
	LeaderSide string `json:"leader_side"`
}

func viewCopyRecords(rs []*polybot.CopyRecord) []copyRecordView {
	out := make([]copyRecordView, len(rs))
	for i, r := range rs {
		out[i] = copyRecordView{CopyRecord: r, LeaderSide: r.LeaderSide.String()}
	}
	return out
}

func leaderAudit(l *polybot.Leader) string {
	d, _ := json.Marshal(map[string]any{"id": l.ID, "address": l.Address, "label": l.Label, "enabled": l.Enabled,
		"mode": l.Mode, "sizing": l.Describe()})
	return string(d)
}

func (s *Server) handleLeaders(w http.ResponseWriter, r *http.Request, id *identity) error {
	var ls []*polybot.Leader
	err := s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) (err error) {
		ls, err = tx.Leaders()
		return err
	})
	if err != nil {
		return err
	}
	out := make([]leaderView, len(ls))
	for i, l := range ls {
		out[i] = viewLeader(l)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"leaders": out})
}

func (s *Server) handleLeader(w http.ResponseWriter, r *http.Request, id *identity) error {
	lid := r.PathValue("id")
	if err := polybot.CheckNewsID(lid); err != nil {
		return err
	}
	var l *polybot.Leader
	err := s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) (err error) {
		l, err = tx.Leader(lid)
		return err
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, viewLeader(l))
}

// handleCreateLeader stores a new leader under the body's id, or a fresh
// one (ECONFLICT if the id is taken: PUT changes a leader). The store
// refuses a wallet the user already follows and a leader past
// polybot.MaxLeaders.
func (s *Server) handleCreateLeader(w http.ResponseWriter, r *http.Request, id *identity) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	l, err := parseLeader(body, newsID("leader"))
	if err != nil {
		return err
	}
	err = s.cfg.Store.Tenant(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		if err := tx.LockTenant(); err != nil {
			return err
		}
		if _, err := tx.Leader(l.ID); err == nil {
			return &polybot.Error{Code: polybot.ECONFLICT, Message: "a leader with this id exists; PUT /api/v1/copy/leaders/{id} changes it",
				Fields: map[string]string{"id": "is taken"}}
		} else if polybot.ErrorCode(err) != polybot.ENOTFOUND {
			return err
		}
		if err := tx.PutLeader(l); err != nil {
			return err
		}
		return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: "copy.leader_create", Target: "copy_leader:" + l.ID,
			Details: leaderAudit(l), CreatedAt: tx.Now()})
	})
	if err != nil {
		return err
	}
	s.reload(r, id.tenant())
	return writeJSON(w, http.StatusCreated, viewLeader(l))
}

// handlePutLeader creates or replaces the leader the path names; a body
// without "enabled" keeps a stored leader's switch.
func (s *Server) handlePutLeader(w http.ResponseWriter, r *http.Request, id *identity) error {
	lid := r.PathValue("id")
	if err := polybot.CheckNewsID(lid); err != nil {
		return err
	}
	in, err := readRequest[leaderBody](r)
	if err != nil {
		return err
	}
	if in.ID != "" && in.ID != lid {
		return polybot.FieldError("id", "must be the id in the path (or left out)")
	}
	in.ID = lid
	l, err := in.leader(true)
	if err != nil {
		return err
	}
	status := http.StatusOK
	err = s.cfg.Store.Tenant(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		if err := tx.LockTenant(); err != nil {
			return err
		}
		old, err := tx.Leader(lid)
		switch {
		case polybot.ErrorCode(err) == polybot.ENOTFOUND:
			status = http.StatusCreated
		case err != nil:
			return err
		case in.Enabled == nil:
			l.Enabled = old.Enabled
		}
		if err := tx.PutLeader(l); err != nil {
			return err
		}
		return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: "copy.leader_put", Target: "copy_leader:" + l.ID,
			Details: leaderAudit(l), CreatedAt: tx.Now()})
	})
	if err != nil {
		return err
	}
	s.reload(r, id.tenant())
	return writeJSON(w, status, viewLeader(l))
}

func (s *Server) handleDeleteLeader(w http.ResponseWriter, r *http.Request, id *identity) error {
	lid := r.PathValue("id")
	if err := polybot.CheckNewsID(lid); err != nil {
		return err
	}
	err := s.cfg.Store.Tenant(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		if err := tx.DeleteLeader(lid); err != nil {
			return err
		}
		return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: "copy.leader_delete", Target: "copy_leader:" + lid,
			Details: "{}", CreatedAt: tx.Now()})
	})
	if err != nil {
		return err
	}
	s.reload(r, id.tenant())
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleLeaderCopies lists what the bot did with the leader's trades,
// newest first: copies, skips with their reasons, exits; each carries the
// leader's own trade (side, price, size, time, market).
func (s *Server) handleLeaderCopies(w http.ResponseWriter, r *http.Request, id *identity) error {
	lid := r.PathValue("id")
	if err := polybot.CheckNewsID(lid); err != nil {
		return err
	}
	limit, err := newsPage(r)
	if err != nil {
		return err
	}
	var rs []*polybot.CopyRecord
	err = s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		if _, err := tx.Leader(lid); err != nil {
			return err
		}
		rs, err = tx.CopyRecords(lid, limit)
		return err
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"copies": viewCopyRecords(rs)})
}

// handleLeaderPnL is the P&L of the leader's copies (TenantTx.CopyPnL):
// realised P&L and fees per mode of the fills of intents of strategy
// copy_trading whose opportunity is polybot.CopyOpportunityID(leader, …),
// and the size still held per instrument.
func (s *Server) handleLeaderPnL(w http.ResponseWriter, r *http.Request, id *identity) error {
	lid := r.PathValue("id")
	if err := polybot.CheckNewsID(lid); err != nil {
		return err
	}
	var p *polybot.CopyPnL
	err := s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) (err error) {
		p, err = tx.CopyPnL(lid)
		return err
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

// copyPageRecords is how many records of each leader the page shows.
const copyPageRecords = 20

// pageCopy is the Copy trading page: the leaders with their sizing and
// P&L, the editor, and each leader's recent trades with what we did.
func (s *Server) pageCopy(w http.ResponseWriter, r *http.Request, id *identity) error {
	var p *polybot.Profile
	var c *polybot.Config
	d := web.CopyData{Max: polybot.MaxLeaders}
	err := s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		var err error
		if p, err = tx.Profile(); err != nil {
			return err
		}
		if c, err = tx.Config(); err != nil {
			return err
		}
		ls, err := tx.Leaders()
		if err != nil {
			return err
		}
		for _, l := range ls {
			j, err := json.Marshal(viewLeader(l))
			if err != nil {
				return polybot.Internal(err)
			}
			pnl, err := tx.CopyPnL(l.ID)
			if err != nil {
				return err
			}
			rs, err := tx.CopyRecords(l.ID, copyPageRecords)
			if err != nil {
				return err
			}
			row := web.LeaderRow{ID: l.ID, Label: l.Label, Address: l.Address, Enabled: l.Enabled, Sizing: l.Describe(),
				JSON: string(j), PnL: pnl.Modes, Open: pnl.Open}
			for _, x := range rs {
				row.Copies = append(row.Copies, web.NewCopyRow(x))
			}
			d.Leaders = append(d.Leaders, row)
		}
		return nil
	})
	if err != nil {
		return err
	}
	d.Enabled = c.EnableCopyTrading
	return s.render(w, r, id, p, "copy", "Copy trading", d)
}
