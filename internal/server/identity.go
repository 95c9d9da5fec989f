package server

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/auth"
)

// Cookie and header names.
const (
	sessionCookie = "polybot_session"
	csrfCookie    = "polybot_csrf"
	csrfHeader    = "X-CSRF-Token"
)

// identity is the authenticated caller of a request.
type identity struct {
	user    *polybot.User
	session *polybot.Session // set when authenticated by cookie
}

func (id *identity) tenant() polybot.ID { return id.user.ID }

// actor names the caller in audit entries.
func (id *identity) actor() string {
	if id.user.Role == polybot.RoleAdmin {
		return "admin:" + id.user.ID.String()
	}
	return id.user.ID.String()
}

func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		if s.cfg.SecureCookies {
			// Served over HTTPS: browsers must never come back over plain HTTP.
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		r = withClientIP(r, s.cfg.TrustedProxies)
		next.ServeHTTP(sw, r)
		lvl := slog.LevelDebug
		if sw.status >= 500 {
			lvl = slog.LevelWarn
		}
		s.log.Log(r.Context(), lvl, "http request", "method", r.Method, "path", r.URL.Path, "status", sw.status, "duration", time.Since(start))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// endpoint wraps one route: panic recovery, body limit, authentication,
// authorisation, CSRF, and error rendering.
func (s *Server) endpoint(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sw, ok := w.(*statusWriter); ok {
			start := time.Now()
			defer func() { s.metrics.observe(rt.pattern, sw.status, time.Since(start)) }()
		}
		defer s.recoverPanic(w, r)
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		var id *identity
		if rt.access != public {
			var err error
			if id, err = s.authenticate(w, r); err != nil {
				s.writeError(w, r, err)
				return
			}
			if rt.access == admin && id.user.Role != polybot.RoleAdmin {
				s.writeError(w, r, polybot.Errorf(polybot.EFORBIDDEN, "admin role required"))
				return
			}
			if wait := s.tenantLim.wait(id.tenant().String()); wait > 0 {
				s.writeError(w, r, limited("too many requests for this account", wait))
				return
			}
			if id.session != nil && !safeMethod(r.Method) {
				if err := checkCSRF(r, id.session); err != nil {
					s.writeError(w, r, err)
					return
				}
			}
		}
		if err := rt.h(w, r, id); err != nil {
			s.writeError(w, r, err)
		}
	})
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// checkCSRF requires cookie-authenticated writes to echo the session's CSRF
// token in a header and, when the browser sends an Origin, to come from this host.
func checkCSRF(r *http.Request, sess *polybot.Session) error {
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return polybot.Errorf(polybot.EFORBIDDEN, "cross-origin request refused")
		}
	}
	if !auth.TokenEqual(r.Header.Get(csrfHeader), sess.CSRFToken) {
		return &polybot.Error{Code: polybot.EFORBIDDEN, Message: "missing or invalid CSRF token", Fields: map[string]string{csrfHeader: "must match the session's CSRF token"}}
	}
	return nil
}

var errUnauthenticated = polybot.Errorf(polybot.EUNAUTHORIZED, "authentication required")

// authenticate resolves the caller from a bearer token (API token or
// Supabase JWT) or a session cookie.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*identity, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || tok == "" {
			return nil, polybot.Errorf(polybot.EUNAUTHORIZED, "Authorization header must be \"Bearer <token>\"")
		}
		if strings.HasPrefix(tok, auth.APITokenPrefix) {
			if !auth.IsAPIToken(tok) {
				return nil, polybot.Errorf(polybot.EUNAUTHORIZED, "invalid or expired API token")
			}
			return s.authAPIToken(r, tok)
		}
		if s.cfg.JWT != nil {
			return s.authJWT(r, tok)
		}
		return nil, polybot.Errorf(polybot.EUNAUTHORIZED, "invalid bearer token")
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, errUnauthenticated
	}
	return s.authSession(w, r, c.Value)
}

func (s *Server) authSession(w http.ResponseWriter, r *http.Request, raw string) (*identity, error) {
	hash := auth.HashToken(raw)
	var id identity
	err := s.cfg.Store.AdminView(r.Context(), func(tx polybot.AdminTx) error {
		sess, u, err := tx.SessionUser(hash)
		if err != nil {
			return err
		}
		id = identity{user: u, session: sess}
		return nil
	})
	if polybot.ErrorCode(err) == polybot.ENOTFOUND {
		clearCookie(w, sessionCookie, s.cfg.SecureCookies, true)
		return nil, polybot.Errorf(polybot.EUNAUTHORIZED, "session expired or signed out")
	} else if err != nil {
		return nil, err
	}
	if id.user.Disabled {
		return nil, polybot.Errorf(polybot.EFORBIDDEN, "account disabled")
	}
	now := s.now()
	if !now.Before(id.session.CreatedAt.Add(s.cfg.SessionMaxAge)) {
		// Past its absolute lifetime, however active: sign in again.
		if err := s.cfg.Store.Admin(r.Context(), func(tx polybot.AdminTx) error {
			return tx.TouchSession(hash, id.session.LastSeenAt, now)
		}); err != nil && polybot.ErrorCode(err) != polybot.ENOTFOUND {
			s.log.Warn("expire session", "err", err)
		}
		clearCookie(w, sessionCookie, s.cfg.SecureCookies, true)
		return nil, polybot.Errorf(polybot.EUNAUTHORIZED, "session expired; sign in again")
	}
	// Sliding expiry, written at most once a minute per session, never past
	// the absolute lifetime.
	if now.Sub(id.session.LastSeenAt) > time.Minute {
		exp := s.sessionExpiry(id.session.CreatedAt, now)
		if err := s.cfg.Store.Admin(r.Context(), func(tx polybot.AdminTx) error {
			return tx.TouchSession(hash, now, exp)
		}); err != nil {
			s.log.Warn("touch session", "err", err)
		}
	}
	return &id, nil
}

func (s *Server) authAPIToken(r *http.Request, raw string) (*identity, error) {
	hash := auth.HashToken(raw)
	var id identity
	var tok *polybot.APIToken
	err := s.cfg.Store.AdminView(r.Context(), func(tx polybot.AdminTx) error {
		t, u, err := tx.APITokenUser(hash)
		if err != nil {
			return err
		}
		tok, id = t, identity{user: u}
		return nil
	})
	if polybot.ErrorCode(err) == polybot.ENOTFOUND {
		return nil, polybot.Errorf(polybot.EUNAUTHORIZED, "invalid or expired API token")
	} else if err != nil {
		return nil, err
	}
	if id.user.Disabled {
		return nil, polybot.Errorf(polybot.EFORBIDDEN, "account disabled")
	}
	now := s.now()
	if tok.LastUsedAt == nil || now.Sub(*tok.LastUsedAt) > time.Minute {
		if err := s.cfg.Store.Admin(r.Context(), func(tx polybot.AdminTx) error { return tx.TouchAPIToken(tok.ID, now) }); err != nil {
			s.log.Warn("touch api token", "err", err)
		}
	}
	return &id, nil
}

// authJWT accepts a Supabase access token. A user seen for the first time is
// provisioned on the free tier.
func (s *Server) authJWT(r *http.Request, raw string) (*identity, error) {
	claims, err := s.cfg.JWT.VerifyUser(r.Context(), raw)
	if err != nil {
		return nil, err
	}
	var u *polybot.User
	err = s.cfg.Store.AdminView(r.Context(), func(tx polybot.AdminTx) error {
		var err error
		u, err = tx.UserByID(claims.Sub)
		return err
	})
	if polybot.ErrorCode(err) == polybot.ENOTFOUND {
		// Its bot starts when onboarding is done, as for a sign-up.
		u, err = s.provisionJWTUser(r, claims.Sub, claims.Email)
	}
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, polybot.Errorf(polybot.EFORBIDDEN, "account disabled")
	}
	return &identity{user: u}, nil
}

func (s *Server) provisionJWTUser(r *http.Request, sub polybot.ID, email string) (*polybot.User, error) {
	if e, err := polybot.NormalizeEmail(email); err == nil {
		email = e
	} else {
		email = sub.String() + "@users.invalid"
	}
	var u *polybot.User
	err := s.cfg.Store.Admin(r.Context(), func(tx polybot.AdminTx) error {
		var err error
		u, err = s.createUser(tx, sub, email, "", "supabase")
		return err
	})
	if polybot.ErrorCode(err) == polybot.ECONFLICT { // raced with another request
		err = s.cfg.Store.AdminView(r.Context(), func(tx polybot.AdminTx) error {
			var err error
			u, err = tx.UserByID(sub)
			return err
		})
	}
	return u, err
}

func setSessionCookies(w http.ResponseWriter, token, csrf string, exp time.Time, secure bool) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", Expires: exp, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: csrf, Path: "/", Expires: exp, HttpOnly: false, Secure: secure, SameSite: http.SameSiteStrictMode})
}

func clearCookie(w http.ResponseWriter, name string, secure, httpOnly bool) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: httpOnly, Secure: secure, SameSite: http.SameSiteLaxMode})
}
