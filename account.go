package polybot

import "fmt"

// CreateAccount creates user u on the free tier with the seed's default
// profile and config, and records it in the audit log, all in tx. It is the
// one way accounts are made: sign-up, the CLI and first sight of a
// Supabase user all call it. The new account's bot is off: it starts when
// the user completes onboarding (internal/server), not before and not at
// the next restart.
func CreateAccount(tx AdminTx, u *User, displayName, actor string) (*Profile, error) {
	if u.ID.IsZero() {
		u.ID = NewID()
	}
	if u.Role == "" {
		u.Role = RoleUser
	}
	now := tx.Now()
	u.CreatedAt = now
	tier, err := tx.Tier(TierFree)
	if err != nil {
		return nil, err
	}
	p := NewProfile(u.ID, u.Email, tier, now)
	p.DisplayName = displayName
	c := DefaultConfig(u.ID, now)
	if err := tx.CreateUser(u, p, c); err != nil {
		return nil, err
	}
	if err := tx.SetUserBotEnabled(u.ID, false); err != nil {
		return nil, err
	}
	uid := u.ID
	err = tx.AppendAudit(&AuditEntry{UserID: &uid, Actor: actor, Action: AuditSignup, Target: "user:" + uid.String(),
		Details: fmt.Sprintf(`{"role":%q,"tier":%q}`, u.Role, tier.Name), CreatedAt: now})
	return p, err
}

// CompleteOnboarding accepts the terms now (unless they were accepted
// before), marks onboarding complete and turns the bot on, in the tenant's
// transaction: what an account made outside the web UI's onboarding (the
// --sim demo user, a seeded test tenant) needs to trade.
func CompleteOnboarding(tx TenantTx) error {
	p, err := tx.Profile()
	if err != nil {
		return err
	}
	if p.AcceptedTermsAt == nil {
		now := tx.Now()
		p.AcceptedTermsAt = &now
	}
	p.OnboardingCompleted = true
	if err := tx.UpdateProfile(p); err != nil {
		return err
	}
	return tx.SetBotEnabled(true)
}
