package server

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/auth"
	"github.com/polybot/polybot/internal/web"
)

// Audit actions of the account's security section.
const (
	auditPasswordChange = "auth.password_change"
	auditSessionRevoke  = "auth.session_revoke"
	auditSignOutAll     = "auth.sign_out_everywhere"
)

// sessionView is one of the user's sessions as the API shows it. ID is
// derived from the stored hash, so the list never shows what the store
// looks sessions up by.
type sessionView struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	Current    bool      `json:"current"`
}

func publicSessionID(hash string) string {
	sum := sha256.Sum256([]byte("polybot session id\x00" + hash))
	return hex.EncodeToString(sum[:12])
}

// currentSession is the id of the session the request came with ("" for a
// bearer token).
func currentSession(id *identity) string {
	if id.session == nil {
		return ""
	}
	return id.session.ID
}

func (s *Server) userSessions(r *http.Request, id *identity) ([]*polybot.Session, error) {
	var list []*polybot.Session
	err := s.cfg.Store.AdminView(r.Context(), func(tx polybot.AdminTx) error {
		var err error
		list, err = tx.UserSessions(id.tenant())
		return err
	})
	return list, err
}

func (s *Server) handleListSessions(w http.ResponseWriter, r *http.Request, id *identity) error {
	list, err := s.userSessions(r, id)
	if err != nil {
		return err
	}
	out := make([]sessionView, 0, len(list))
	for _, ss := range list {
		out = append(out, sessionView{ID: publicSessionID(ss.ID), CreatedAt: ss.CreatedAt, LastSeenAt: ss.LastSeenAt,
			ExpiresAt: ss.ExpiresAt, Current: ss.ID == currentSession(id)})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"sessions": out})
}

// handleRevokeSession signs one of the user's sessions out. Revoking the
// current one also clears this browser's cookies.
func (s *Server) handleRevokeSession(w http.ResponseWriter, r *http.Request, id *identity) error {
	want := r.PathValue("id")
	list, err := s.userSessions(r, id)
	if err != nil {
		return err
	}
	var hash string
	for _, ss := range list {
		if publicSessionID(ss.ID) == want {
			hash = ss.ID
		}
	}
	if hash == "" {
		return polybot.NotFound("session")
	}
	err = s.cfg.Store.Tenant(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		if err := tx.DeleteSession(hash); err != nil {
			return err
		}
		return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: auditSessionRevoke, Target: "session",
			Details: `{"session":` + quote(want) + `}`, CreatedAt: tx.Now()})
	})
	if err != nil {
		return err
	}
	if hash == currentSession(id) {
		clearCookie(w, sessionCookie, s.cfg.SecureCookies, true)
		clearCookie(w, csrfCookie, s.cfg.SecureCookies, false)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleSignOutEverywhere ends every session of the user, this one too.
// API tokens are not sessions: they stay until deleted.
func (s *Server) handleSignOutEverywhere(w http.ResponseWriter, r *http.Request, id *identity) error {
	var n int
	err := s.cfg.Store.Admin(r.Context(), func(tx polybot.AdminTx) error {
		var err error
		if n, err = tx.DeleteUserSessions(id.tenant(), ""); err != nil {
			return err
		}
		uid := id.tenant()
		return tx.AppendAudit(&polybot.AuditEntry{UserID: &uid, Actor: id.actor(), Action: auditSignOutAll, Target: "session",
			Details: `{"sessions":` + strconv.Itoa(n) + `}`, CreatedAt: tx.Now()})
	})
	if err != nil {
		return err
	}
	clearCookie(w, sessionCookie, s.cfg.SecureCookies, true)
	clearCookie(w, csrfCookie, s.cfg.SecureCookies, false)
	return writeJSON(w, http.StatusOK, map[string]int{"signed_out": n})
}

// handleChangePassword sets a new password after checking the current one,
// and signs out every other session (a token-authenticated change signs
// out all of them). Wrong current passwords count against the login limits.
func (s *Server) handleChangePassword(w http.ResponseWriter, r *http.Request, id *identity) error {
	ip := clientIP(r)
	if wait := s.loginLim.wait(ip); wait > 0 {
		return limited("too many password attempts from your address", wait)
	}
	in, err := readRequest[passwordChangeRequest](r)
	if err != nil {
		return err
	}
	u := id.user
	if u.PasswordHash == "" {
		return polybot.Errorf(polybot.EFORBIDDEN, "this account signs in through its identity provider; change the password there")
	}
	if wait := s.cfg.Limiter.Allow(u.Email, ip); wait > 0 {
		return limited("too many password attempts", wait)
	}
	ok, _, err := auth.VerifyPassword(in.CurrentPassword, u.PasswordHash, s.cfg.Password)
	if err != nil {
		return err
	}
	if !ok {
		return polybot.FieldError("current_password", "is not your current password")
	}
	s.cfg.Limiter.Succeed(u.Email, ip)
	var display string
	if err := s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		p, err := tx.Profile()
		if err == nil {
			display = p.DisplayName
		}
		return err
	}); err != nil {
		return err
	}
	if err := newPassword(in.NewPassword, u.Email, display); err != nil {
		return polybot.FieldError("new_password", polybot.ErrorFields(err)["password"])
	}
	hash, err := auth.HashPassword(in.NewPassword, s.cfg.Password)
	if err != nil {
		return polybot.Internal(err)
	}
	var n int
	err = s.cfg.Store.Admin(r.Context(), func(tx polybot.AdminTx) error {
		if err := tx.SetUserPassword(u.ID, hash); err != nil {
			return err
		}
		var err error
		if n, err = tx.DeleteUserSessions(u.ID, currentSession(id)); err != nil {
			return err
		}
		uid := u.ID
		return tx.AppendAudit(&polybot.AuditEntry{UserID: &uid, Actor: id.actor(), Action: auditPasswordChange, Target: "user:" + uid.String(),
			Details: `{"other_sessions_signed_out":` + strconv.Itoa(n) + `}`, CreatedAt: tx.Now()})
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]int{"other_sessions_signed_out": n})
}

// pageAccount is the account and security page: change the password, see
// and end sessions. Its script writes through the API above.
func (s *Server) pageAccount(w http.ResponseWriter, r *http.Request, id *identity) error {
	p, err := s.profile(r, id)
	if err != nil {
		return err
	}
	list, err := s.userSessions(r, id)
	if err != nil {
		return err
	}
	d := web.AccountData{HasPassword: id.user.PasswordHash != "",
		IdleDays: int(s.cfg.SessionTTL / (24 * time.Hour)), MaxAgeDays: int(s.cfg.SessionMaxAge / (24 * time.Hour))}
	for _, ss := range list {
		d.Sessions = append(d.Sessions, web.SessionRow{ID: publicSessionID(ss.ID), CreatedAt: ss.CreatedAt, LastSeenAt: ss.LastSeenAt,
			ExpiresAt: ss.ExpiresAt, Current: ss.ID == currentSession(id)})
	}
	return s.render(w, r, id, p, "account", "Account and security", d)
}
