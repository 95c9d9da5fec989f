package server

import (
	"net/http"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/auth"
)

func (s *Server) createUser(tx polybot.AdminTx, id polybot.ID, email, passwordHash, actor string) (*polybot.User, error) {
	u := &polybot.User{ID: id, Email: email, PasswordHash: passwordHash, Role: polybot.RoleUser}
	if _, err := polybot.CreateAccount(tx, u, "", actor); err != nil {
		return nil, err
	}
	return u, nil
}

type sessionResponse struct {
	User      *polybot.User `json:"user"`
	CSRFToken string        `json:"csrf_token,omitempty"`
	ExpiresAt *time.Time    `json:"expires_at,omitempty"`
}

func (s *Server) handleSignup(w http.ResponseWriter, r *http.Request, _ *identity) error {
	if wait := s.signupLim.wait(clientIP(r)); wait > 0 {
		return limited("too many sign-ups from your address", wait)
	}
	in, err := readRequest[signupRequest](r)
	if err != nil {
		return err
	}
	email := in.Email
	hash, err := auth.HashPassword(in.Password, s.cfg.Password)
	if err != nil {
		return polybot.Internal(err)
	}
	u := &polybot.User{Email: email, PasswordHash: hash, Role: polybot.RoleUser}
	err = s.cfg.Store.Admin(r.Context(), func(tx polybot.AdminTx) error {
		_, err := polybot.CreateAccount(tx, u, in.DisplayName, "self")
		return err
	})
	if polybot.ErrorCode(err) == polybot.ECONFLICT {
		return &polybot.Error{Code: polybot.ECONFLICT, Message: "an account with this email already exists", Fields: map[string]string{"email": "is already registered"}}
	} else if err != nil {
		return err
	}
	resp, err := s.startSession(w, r, u)
	if err != nil {
		return err
	}
	// The bot starts when onboarding is done (handlePatchProfile), not here.
	return writeJSON(w, http.StatusCreated, resp)
}

func (s *Server) startSession(w http.ResponseWriter, r *http.Request, u *polybot.User) (*sessionResponse, error) {
	token, csrf := auth.NewToken(), auth.NewToken()
	var exp time.Time
	err := s.cfg.Store.Tenant(r.Context(), u.ID, func(tx polybot.TenantTx) error {
		now := tx.Now()
		exp = s.sessionExpiry(now, now)
		sess := &polybot.Session{ID: auth.HashToken(token), UserID: u.ID, CSRFToken: csrf, CreatedAt: now, ExpiresAt: exp, LastSeenAt: now}
		if err := tx.CreateSession(sess); err != nil {
			return err
		}
		if err := tx.TouchLastActive(); err != nil {
			return err
		}
		return tx.AppendAudit(&polybot.AuditEntry{Actor: u.ID.String(), Action: polybot.AuditLogin, Target: "session",
			Details: `{"ip":` + quote(clientIP(r)) + `}`, CreatedAt: now})
	})
	if err != nil {
		return nil, err
	}
	setSessionCookies(w, token, csrf, exp, s.cfg.SecureCookies)
	return &sessionResponse{User: u, CSRFToken: csrf, ExpiresAt: &exp}, nil
}

var errBadLogin = polybot.Errorf(polybot.EUNAUTHORIZED, "invalid email or password")

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request, _ *identity) error {
	if wait := s.loginLim.wait(clientIP(r)); wait > 0 {
		return limited("too many login attempts from your address", wait)
	}
	in, err := readRequest[loginRequest](r)
	if err != nil {
		return err
	}
	ip := clientIP(r)
	email, err := polybot.NormalizeEmail(in.Email)
	if err != nil {
		// No account can match, but the address still pays for the attempt.
		if wait := s.cfg.Limiter.Allow("", ip); wait > 0 {
			return &rateLimited{err: auth.RateLimitError(wait), retryAfterSeconds: seconds(wait)}
		}
		return errBadLogin
	}
	if wait := s.cfg.Limiter.Allow(email, ip); wait > 0 {
		return &rateLimited{err: auth.RateLimitError(wait), retryAfterSeconds: seconds(wait)}
	}
	// Allow counted this attempt before the password is checked, so a burst
	// of guesses cannot all pass; Succeed takes it back.
	var u *polybot.User
	err = s.cfg.Store.AdminView(r.Context(), func(tx polybot.AdminTx) error {
		var err error
		u, err = tx.UserByEmail(email)
		return err
	})
	if err != nil && polybot.ErrorCode(err) != polybot.ENOTFOUND {
		return err
	}
	if u == nil || u.PasswordHash == "" {
		auth.DummyVerify(in.Password, s.cfg.Password)
		return errBadLogin
	}
	ok, _, err := auth.VerifyPassword(in.Password, u.PasswordHash, s.cfg.Password)
	if err != nil {
		return err
	}
	if !ok {
		uid := u.ID
		if err := s.cfg.Store.Admin(r.Context(), func(tx polybot.AdminTx) error {
			return tx.AppendAudit(&polybot.AuditEntry{UserID: &uid, Actor: "anonymous", Action: polybot.AuditLoginFailed,
				Target: "session", Details: `{"ip":` + quote(ip) + `}`, CreatedAt: tx.Now()})
		}); err != nil {
			s.log.Warn("audit failed login", "err", err)
		}
		return errBadLogin
	}
	if u.Disabled {
		return polybot.Errorf(polybot.EFORBIDDEN, "account disabled")
	}
	s.cfg.Limiter.Succeed(email, ip)
	resp, err := s.startSession(w, r, u)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, resp)
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, id *identity) error {
	if err := s.endSession(w, r, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// endSession deletes the caller's session (if it came with one), audits the
// logout and clears the cookies.
func (s *Server) endSession(w http.ResponseWriter, r *http.Request, id *identity) error {
	if id.session != nil {
		err := s.cfg.Store.Tenant(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
			if err := tx.DeleteSession(id.session.ID); err != nil && polybot.ErrorCode(err) != polybot.ENOTFOUND {
				return err
			}
			return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: polybot.AuditLogout, Target: "session", Details: "{}", CreatedAt: tx.Now()})
		})
		if err != nil {
			return err
		}
	}
	clearCookie(w, sessionCookie, s.cfg.SecureCookies, true)
	clearCookie(w, csrfCookie, s.cfg.SecureCookies, false)
	return nil
}

func (s *Server) handleSession(w http.ResponseWriter, r *http.Request, id *identity) error {
	resp := sessionResponse{User: id.user}
	if id.session != nil {
		resp.CSRFToken = id.session.CSRFToken
		resp.ExpiresAt = &id.session.ExpiresAt
	}
	return writeJSON(w, http.StatusOK, resp)
}

func seconds(d time.Duration) int {
	n := int((d + time.Second - 1) / time.Second)
	if n < 1 {
		n = 1
	}
	return n
}

// startBot starts an account's bot (dry-run by default) when its user
// completes onboarding, as the manager does for every active user who
// wants it at start-up. A failure is logged: the user can start it from the
// API.
func (s *Server) startBot(r *http.Request, id polybot.ID) {
	if s.cfg.Bots == nil {
		return
	}
	if err := s.cfg.Bots.Start(r.Context(), id); err != nil {
		s.log.Warn("start new user's bot", "tenant", id, "err", err)
	}
}

// sessionExpiry is when a session created at created and last seen at seen
// ends: after SessionTTL idle, and never later than SessionMaxAge after it
// began.
func (s *Server) sessionExpiry(created, seen time.Time) time.Time {
	idle, hard := seen.Add(s.cfg.SessionTTL), created.Add(s.cfg.SessionMaxAge)
	if hard.Before(idle) {
		return hard
	}
	return idle
}
