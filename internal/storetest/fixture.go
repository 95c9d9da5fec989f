package storetest

import (
	"time"

	"github.com/polybot/polybot"
)

// tenantFixture is a tenant with one of everything: config, secrets, a data
// key, a session, an API token, audit entries and two counted trades.
type tenantFixture struct {
	tag     string
	user    *polybot.User
	secrets []*polybot.Secret
	key     *polybot.DataKey
	session *polybot.Session
	token   *polybot.APIToken
	audit   []*polybot.AuditEntry
}

type slot struct {
	platform polybot.Platform
	paper    bool
}

// seedTenant creates a user tagged tag with secrets in the given slots.
// Every value it stores carries the tag, so a leak names its owner.
func (e *env) seedTenant(tag string, slots ...slot) *tenantFixture {
	e.t.Helper()
	f := &tenantFixture{tag: tag, user: e.newUser(tag + "@example.com")}
	id := f.user.ID
	e.mustTenant(id, func(tx polybot.TenantTx) error {
		p, err := tx.Profile()
		if err != nil {
			return err
		}
		p.DisplayName = "Tenant " + tag
		if err := tx.UpdateProfile(p); err != nil {
			return err
		}
		c := polybot.DefaultConfig(id, time.Time{})
		pct := map[string]string{"a": "1.11", "b": "2.22"}[tag]
		if pct == "" {
			pct = "0.5"
		}
		c.MinProfitPct = polybot.MustDecimal(pct)
		c.NotificationChannels = []string{"webhook"}
		c.AdvancedConfig = []byte(`{"owner":"` + tag + `"}`)
		if err := tx.UpdateConfig(c); err != nil {
			return err
		}
		for _, s := range slots {
			sec := &polybot.Secret{Platform: s.platform, Paper: s.paper, Active: true, Fingerprint: tag + "-fp",
				Sealed: map[string]string{
					polybot.FieldAPIKey:    "sealed:" + tag + ":" + string(s.platform) + ":key",
					polybot.FieldAPISecret: "sealed:" + tag + ":" + string(s.platform) + ":secret",
				}, ValidationStatus: polybot.ValidationPending}
			if err := tx.PutSecret(sec); err != nil {
				return err
			}
			f.secrets = append(f.secrets, sec)
		}
		f.key = &polybot.DataKey{MasterKeyID: "local:1", Wrapped: []byte("wrapped-key-of-" + tag), CreatedAt: tx.Now(), RotatedAt: tx.Now()}
		if err := tx.CreateDataKey(f.key); err != nil {
			return err
		}
		f.session = &polybot.Session{ID: "session-hash-" + tag, CSRFToken: "csrf-" + tag, CreatedAt: tx.Now(),
			LastSeenAt: tx.Now(), ExpiresAt: tx.Now().Add(24 * time.Hour)}
		if err := tx.CreateSession(f.session); err != nil {
			return err
		}
		f.token = &polybot.APIToken{ID: polybot.NewID(), Name: "token of " + tag, Hash: "token-hash-" + tag,
			Prefix: "pb_" + tag, CreatedAt: tx.Now()}
		if err := tx.CreateAPIToken(f.token); err != nil {
			return err
		}
		for _, action := range []string{polybot.AuditLogin, polybot.AuditConfigUpdate} {
			a := &polybot.AuditEntry{Actor: id.String(), Action: action, Target: tag, Details: `{"tenant":"` + tag + `"}`}
			if err := tx.AppendAudit(a); err != nil {
				return err
			}
			f.audit = append(f.audit, a)
		}
		for range 2 {
			if _, err := tx.IncrementTrades(); err != nil {
				return err
			}
		}
		return nil
	})
	return f
}

// tenantState is everything a tenant's own transactions and the admin path
// show of it. Failed look-ups are kept as error codes, so that a row that
// vanished shows up in a diff rather than stopping the test.
type tenantState struct {
	User       *polybot.User
	Profile    *polybot.Profile
	Config     *polybot.Config
	Secrets    []*polybot.Secret
	DataKey    *polybot.DataKey
	APITokens  []*polybot.APIToken
	AuditTrail []*polybot.AuditEntry
	Session    *polybot.Session  // AdminTx.SessionByID
	Token      *polybot.APIToken // AdminTx.APITokenByHash
	AdminKeys  []*polybot.DataKey
	Errors     map[string]string
}

func (e *env) state(f *tenantFixture) *tenantState {
	e.t.Helper()
	s := &tenantState{Errors: map[string]string{}}
	keep := func(what string, err error) {
		if err != nil {
			s.Errors[what] = polybot.ErrorCode(err)
		}
	}
	e.mustTenantView(f.user.ID, func(tx polybot.TenantTx) error {
		var err error
		s.User, err = tx.User()
		keep("User", err)
		s.Profile, err = tx.Profile()
		keep("Profile", err)
		s.Config, err = tx.Config()
		keep("Config", err)
		s.Secrets, err = tx.Secrets()
		keep("Secrets", err)
		s.DataKey, err = tx.DataKey()
		keep("DataKey", err)
		s.APITokens, err = tx.APITokens()
		keep("APITokens", err)
		s.AuditTrail, err = tx.AuditTrail(0, 1000)
		keep("AuditTrail", err)
		return nil
	})
	e.mustAdminView(func(tx polybot.AdminTx) error {
		var err error
		if f.session != nil {
			s.Session, err = tx.SessionByID(f.session.ID)
			keep("SessionByID", err)
		}
		if f.token != nil {
			s.Token, err = tx.APITokenByHash(f.token.Hash)
			keep("APITokenByHash", err)
		}
		keys, err := tx.DataKeys()
		keep("DataKeys", err)
		for _, k := range keys {
			if k.UserID == f.user.ID {
				s.AdminKeys = append(s.AdminKeys, k)
			}
		}
		return nil
	})
	return s
}
