package ibkr

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/polybot/polybot"
)

// AuthStatus is the brokerage session's state (/iserver/auth/status,
// /iserver/auth/ssodh/init, and tickle's iserver.authStatus).
type AuthStatus struct {
	Authenticated bool   `json:"authenticated"`
	Established   bool   `json:"established"`
	Competing     bool   `json:"competing"`
	Connected     bool   `json:"connected"`
	Message       string `json:"message"`
	Fail          string `json:"fail"`
	MAC           string `json:"MAC"`
	ServerInfo    struct {
		ServerName    string `json:"serverName"`
		ServerVersion string `json:"serverVersion"`
	} `json:"serverInfo"`
}

// Tickle is /tickle's answer.
type Tickle struct {
	Session string `json:"session"`
	IServer struct {
		AuthStatus AuthStatus `json:"authStatus"`
	} `json:"iserver"`
}

// Accounts is /iserver/accounts' answer.
type Accounts struct {
	Accounts        []string          `json:"accounts"`
	Aliases         map[string]string `json:"aliases"`
	SelectedAccount string            `json:"selectedAccount"`
	AllowFeatures   struct {
		AllowEventContract bool `json:"allowEventContract"`
		AllowEventTrading  bool `json:"allowEventTrading"`
	} `json:"allowFeatures"`
}

// AuthStatus reads the brokerage session's state.
func (c *Client) AuthStatus(ctx context.Context) (AuthStatus, error) {
	var st AuthStatus
	err := c.call(ctx, "POST", "/iserver/auth/status", nil, nil, false, &st)
	return st, err
}

// Tickle keeps the gateway session alive and reports its state.
func (c *Client) Tickle(ctx context.Context) (Tickle, error) {
	var t Tickle
	err := c.call(ctx, "POST", "/tickle", nil, nil, false, &t)
	return t, err
}

// InitBrokerage opens the brokerage session (/iserver/auth/ssodh/init):
// publish, and take over a competing session elsewhere (compete).
func (c *Client) InitBrokerage(ctx context.Context, compete bool) (AuthStatus, error) {
	var st AuthStatus
	err := c.call(ctx, "POST", "/iserver/auth/ssodh/init", nil, map[string]bool{"publish": true, "compete": compete}, false, &st)
	return st, err
}

// Reauthenticate asks the gateway to re-open the brokerage session
// (/iserver/reauthenticate).
func (c *Client) Reauthenticate(ctx context.Context) error {
	return c.call(ctx, "POST", "/iserver/reauthenticate", nil, nil, false, nil)
}

// Accounts lists the accounts the session may trade. IBKR requires this
// call once per brokerage session before orders.
func (c *Client) Accounts(ctx context.Context) (Accounts, error) {
	var a Accounts
	err := c.call(ctx, "GET", "/iserver/accounts", nil, nil, false, &a)
	return a, err
}

// errNotAuthenticated is returned when the brokerage session cannot be
// opened.
func errNotAuthenticated(st AuthStatus) error {
	msg := "the IBKR gateway's brokerage session is not authenticated: sign in through the gateway's login page"
	if st.Competing {
		msg = "the IBKR brokerage session is in use elsewhere (competing session): close the other session or sign in again"
	}
	return &polybot.VenueError{Venue: polybot.IBKR, Status: 401, Message: msg}
}

// EnsureSession checks the brokerage session and opens it when the gateway
// is signed in but the brokerage session is not (ssodh init, then
// reauthenticate). It then checks that the configured account is in the
// session's account list. It is what ValidateCredentials does.
func (c *Client) EnsureSession(ctx context.Context) error {
	st, err := c.AuthStatus(ctx)
	if err != nil {
		return err
	}
	if !st.Authenticated || st.Competing {
		st, err = c.InitBrokerage(ctx, st.Competing)
		if err != nil {
			return err
		}
		if !st.Authenticated {
			if err := c.Reauthenticate(ctx); err != nil {
				return err
			}
			if st, err = c.AuthStatus(ctx); err != nil {
				return err
			}
		}
		if !st.Authenticated || st.Competing {
			return errNotAuthenticated(st)
		}
	}
	accts, err := c.Accounts(ctx)
	if err != nil {
		return err
	}
	if !slices.Contains(accts.Accounts, c.cfg.Account) {
		return &polybot.VenueError{Venue: polybot.IBKR, Status: 403,
			Message: "account " + c.cfg.Account + " is not among the accounts this IBKR session may trade"}
	}
	return nil
}

// KeepAlive tickles the gateway every Config.TickleEvery until ctx ends,
// and re-opens the brokerage session when a tickle shows it closed. It
// returns ctx's error.
func (c *Client) KeepAlive(ctx context.Context) error {
	t := time.NewTicker(c.cfg.TickleEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		tk, err := c.Tickle(ctx)
		switch {
		case errors.Is(err, context.Canceled):
			return ctx.Err()
		case err != nil:
			c.log.Warn("ibkr tickle failed", "err", err)
		case !tk.IServer.AuthStatus.Authenticated:
			if err := c.EnsureSession(ctx); err != nil {
				c.log.Warn("ibkr brokerage session closed", "err", err)
			}
		}
	}
}
