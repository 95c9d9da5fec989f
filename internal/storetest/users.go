package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

func testUsers(t *testing.T, open Opener) {
	t.Run("CreateUser stores the user, its profile and its config together", func(t *testing.T) {
		e := newEnv(t, open)
		u := &polybot.User{ID: polybot.NewID(), Email: "ada@example.com", PasswordHash: "argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA", Role: polybot.RoleAdmin}
		var p *polybot.Profile
		var c *polybot.Config
		e.mustAdmin(func(tx polybot.AdminTx) error {
			tier, err := tx.Tier(polybot.TierPro)
			if err != nil {
				return err
			}
			u.CreatedAt = tx.Now()
			p = polybot.NewProfile(u.ID, u.Email, tier, tx.Now())
			p.DisplayName = "Ada"
			c = polybot.DefaultConfig(u.ID, tx.Now())
			c.MinProfitPct = polybot.MustDecimal("2.5")
			return tx.CreateUser(u, p, c)
		})
		e.mustAdminView(func(tx polybot.AdminTx) error {
			got, err := tx.UserByID(u.ID)
			if err != nil {
				t.Fatalf("UserByID: %v", err)
			}
			wantEqual(t, "UserByID", u, got)
			got, err = tx.UserByEmail(u.Email)
			if err != nil {
				t.Fatalf("UserByEmail: %v", err)
			}
			wantEqual(t, "UserByEmail", u, got)
			return nil
		})
		e.mustTenantView(u.ID, func(tx polybot.TenantTx) error {
			gu, err := tx.User()
			if err != nil {
				t.Fatalf("User: %v", err)
			}
			wantEqual(t, "User", u, gu)
			gp, err := tx.Profile()
			if err != nil {
				t.Fatalf("Profile: %v", err)
			}
			wantEqual(t, "Profile", p, gp)
			gc, err := tx.Config()
			if err != nil {
				t.Fatalf("Config: %v", err)
			}
			wantEqual(t, "Config", c, gc)
			return nil
		})
	})

	t.Run("CreateUser with a taken email is a conflict and creates nothing", func(t *testing.T) {
		e := newEnv(t, open)
		first := e.newUser("taken@example.com")
		dup := &polybot.User{ID: polybot.NewID(), Email: "taken@example.com", Role: polybot.RoleUser}
		err := e.admin(func(tx polybot.AdminTx) error {
			tier, err := tx.Tier(polybot.TierFree)
			if err != nil {
				return err
			}
			return tx.CreateUser(dup, polybot.NewProfile(dup.ID, dup.Email, tier, tx.Now()), polybot.DefaultConfig(dup.ID, tx.Now()))
		})
		wantCode(t, err, polybot.ECONFLICT, "CreateUser(duplicate email)")
		e.mustAdminView(func(tx polybot.AdminTx) error {
			got, err := tx.UserByEmail("taken@example.com")
			if err != nil || got.ID != first.ID {
				t.Fatalf("UserByEmail = %v, %v; want the first user %s", got, err, first.ID)
			}
			_, err = tx.UserByID(dup.ID)
			wantCode(t, err, polybot.ENOTFOUND, "UserByID(refused user)")
			all, err := tx.Users("", 100)
			if err != nil || len(all) != 1 {
				t.Fatalf("Users = %d users, %v; want 1", len(all), err)
			}
			return nil
		})
		err = e.tenantView(dup.ID, func(tx polybot.TenantTx) error { _, err := tx.Profile(); return err })
		wantCode(t, err, polybot.ENOTFOUND, "Profile of the refused user")
		err = e.tenantView(dup.ID, func(tx polybot.TenantTx) error { _, err := tx.Config(); return err })
		wantCode(t, err, polybot.ENOTFOUND, "Config of the refused user")
	})

	t.Run("Users pages in creation order with the last email as cursor", func(t *testing.T) {
		e := newEnv(t, open)
		// Creation order is deliberately not alphabetical.
		emails := []string{"delta@example.com", "alpha@example.com", "charlie@example.com", "echo@example.com", "bravo@example.com"}
		ids := map[string]polybot.ID{}
		for _, m := range emails {
			ids[m] = e.newUser(m).ID
			e.clock.Advance(time.Second)
		}
		var got []string
		e.mustAdminView(func(tx polybot.AdminTx) error {
			after := ""
			for range 10 {
				page, err := tx.Users(after, 2)
				if err != nil {
					t.Fatalf("Users(%q, 2): %v", after, err)
				}
				if len(page) > 2 {
					t.Fatalf("Users(%q, 2) returned %d rows", after, len(page))
				}
				if len(page) == 0 {
					return nil
				}
				for _, s := range page {
					if s.User.ID != ids[s.User.Email] || s.Profile.ID != s.User.ID || s.Profile.Email != s.User.Email {
						t.Fatalf("summary mixes up user %s/%s and profile %s/%s", s.User.ID, s.User.Email, s.Profile.ID, s.Profile.Email)
					}
					if s.Profile.SubscriptionTier != polybot.TierFree || s.Profile.MonthlyTradeLimit != 100 {
						t.Fatalf("summary profile = %+v, want the free tier's", s.Profile)
					}
					got = append(got, s.User.Email)
				}
				after = page[len(page)-1].User.Email
			}
			t.Fatal("Users never returned an empty page")
			return nil
		})
		if !slices.Equal(got, emails) {
			t.Fatalf("Users order = %v, want creation order %v", got, emails)
		}
	})

	t.Run("SetUserRole and SetUserDisabled change the user; ActiveUserIDs skips disabled users", func(t *testing.T) {
		e := newEnv(t, open)
		a := e.newUser("a@example.com")
		e.clock.Advance(time.Second)
		b := e.newUser("b@example.com")
		e.mustAdmin(func(tx polybot.AdminTx) error {
			if err := tx.SetUserRole(a.ID, polybot.RoleAdmin); err != nil {
				t.Fatalf("SetUserRole: %v", err)
			}
			return tx.SetUserDisabled(b.ID, true)
		})
		e.mustAdminView(func(tx polybot.AdminTx) error {
			ga, err := tx.UserByID(a.ID)
			if err != nil || ga.Role != polybot.RoleAdmin || ga.Disabled {
				t.Fatalf("user a = %+v, %v; want an enabled admin", ga, err)
			}
			gb, err := tx.UserByID(b.ID)
			if err != nil || gb.Role != polybot.RoleUser || !gb.Disabled {
				t.Fatalf("user b = %+v, %v; want a disabled user", gb, err)
			}
			ids, err := tx.ActiveUserIDs()
			if err != nil || !slices.Equal(ids, []polybot.ID{a.ID}) {
				t.Fatalf("ActiveUserIDs = %v, %v; want [%s]", ids, err, a.ID)
			}
			return nil
		})
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.SetUserDisabled(b.ID, false) })
		e.mustAdminView(func(tx polybot.AdminTx) error {
			ids, err := tx.ActiveUserIDs()
			if err != nil || len(ids) != 2 || !slices.Contains(ids, a.ID) || !slices.Contains(ids, b.ID) {
				t.Fatalf("ActiveUserIDs = %v, %v; want both users", ids, err)
			}
			return nil
		})
	})

	t.Run("SetUserTier copies the tier's limits and features onto the profile", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("tiered@example.com")
		e.clock.Advance(time.Minute)
		var pro *polybot.Tier
		e.mustAdmin(func(tx polybot.AdminTx) (err error) {
			if pro, err = tx.Tier(polybot.TierPro); err != nil {
				return err
			}
			return tx.SetUserTier(u.ID, polybot.TierPro)
		})
		p := e.profile(u.ID)
		want := *p
		want.ApplyTier(pro)
		wantEqual(t, "profile after SetUserTier(pro)", &want, p)
		if p.SubscriptionTier != polybot.TierPro || p.MonthlyTradeLimit != pro.MonthlyTradeLimit {
			t.Fatalf("profile tier = %s with limit %d, want pro's", p.SubscriptionTier, p.MonthlyTradeLimit)
		}
		err := e.admin(func(tx polybot.AdminTx) error { return tx.SetUserTier(u.ID, "no-such-tier") })
		wantCode(t, err, polybot.ENOTFOUND, "SetUserTier(unknown tier)")
		if got := e.profile(u.ID); got.SubscriptionTier != polybot.TierPro {
			t.Fatalf("a refused SetUserTier changed the tier to %s", got.SubscriptionTier)
		}
	})
}

func testTiers(t *testing.T, open Opener) {
	stripTime := func(ts []*polybot.Tier) map[string]polybot.Tier {
		m := map[string]polybot.Tier{}
		for _, x := range ts {
			v := *x
			v.UpdatedAt = time.Time{}
			m[v.Name] = v
		}
		return m
	}

	t.Run("a new store holds the default tiers", func(t *testing.T) {
		e := newEnv(t, open)
		var def []*polybot.Tier
		for _, x := range polybot.DefaultTiers() {
			def = append(def, &x)
		}
		e.mustAdminView(func(tx polybot.AdminTx) error {
			got, err := tx.Tiers()
			if err != nil {
				t.Fatalf("Tiers: %v", err)
			}
			wantEqual(t, "Tiers", stripTime(def), stripTime(got))
			for _, want := range def {
				one, err := tx.Tier(want.Name)
				if err != nil {
					t.Fatalf("Tier(%s): %v", want.Name, err)
				}
				wantEqual(t, "Tier("+want.Name+")", stripTime([]*polybot.Tier{want}), stripTime([]*polybot.Tier{one}))
			}
			return nil
		})
	})

	t.Run("PutTier creates a tier with exact money", func(t *testing.T) {
		e := newEnv(t, open)
		team := &polybot.Tier{Name: "team", DisplayName: "Team", PriceUSDMonthly: polybot.MustDecimal("49.99"),
			MonthlyTradeLimit: 2500, MaxTradeSizeUSD: polybot.MustDecimal("333.33"), MaxDailyLossUSD: polybot.MustDecimal("0.01"),
			MaxPositions: 7, Features: polybot.Features{CrossPlatform: true, CopyTrading: true}}
		var now time.Time
		e.mustAdmin(func(tx polybot.AdminTx) error { now = tx.Now(); return tx.PutTier(team) })
		team.UpdatedAt = now
		e.mustAdminView(func(tx polybot.AdminTx) error {
			got, err := tx.Tier("team")
			if err != nil {
				t.Fatalf("Tier(team): %v", err)
			}
			wantEqual(t, "Tier(team)", team, got)
			if got.PriceUSDMonthly.String() != "49.99" {
				t.Fatalf("price = %s, want 49.99", got.PriceUSDMonthly)
			}
			all, err := tx.Tiers()
			if err != nil || len(all) != len(polybot.DefaultTiers())+1 {
				t.Fatalf("Tiers = %d, %v; want the defaults and team", len(all), err)
			}
			return nil
		})
	})

	t.Run("PutTier on an existing tier updates the profiles on it and no others", func(t *testing.T) {
		e := newEnv(t, open)
		onBasic := e.newUser("basic@example.com")
		onFree := e.newUser("free@example.com")
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.SetUserTier(onBasic.ID, polybot.TierBasic) })
		freeBefore := e.profile(onFree.ID)
		e.clock.Advance(time.Hour)
		var basic *polybot.Tier
		e.mustAdmin(func(tx polybot.AdminTx) (err error) {
			if basic, err = tx.Tier(polybot.TierBasic); err != nil {
				return err
			}
			basic.MonthlyTradeLimit = 1234
			basic.MaxTradeSizeUSD = polybot.MustDecimal("99.95")
			basic.MaxDailyLossUSD = polybot.MustDecimal("250.50")
			basic.MaxPositions = 9
			basic.Features.OverlappingArb = true
			return tx.PutTier(basic)
		})
		p := e.profile(onBasic.ID)
		if p.MonthlyTradeLimit != 1234 || p.MaxTradeSizeUSD.String() != "99.95" || p.MaxDailyLossUSD.String() != "250.50" ||
			p.MaxPositions != 9 || !p.Features.OverlappingArb {
			t.Fatalf("profile on basic = %+v, want the edited limits", p)
		}
		wantEqual(t, "profile on free", freeBefore, e.profile(onFree.ID))
	})
}

func testProfile(t *testing.T, open Opener) {
	t.Run("a new profile carries its tier's limits and the current quota month", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("new@example.com")
		p := e.profile(u.ID)
		free := polybot.DefaultTiers()[0]
		if p.ID != u.ID || p.Email != u.Email || p.SubscriptionTier != polybot.TierFree || p.MonthlyTradeLimit != free.MonthlyTradeLimit ||
			p.MaxTradeSizeUSD != free.MaxTradeSizeUSD || p.MaxDailyLossUSD != free.MaxDailyLossUSD || p.MaxPositions != free.MaxPositions ||
			p.Features != free.Features || p.TradesThisMonth != 0 || p.QuotaMonth != polybot.QuotaMonth(T0) {
			t.Fatalf("new profile = %+v", p)
		}
	})

	t.Run("UpdateProfile stores the user-editable fields and ignores limits and tier", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("edit@example.com")
		before := e.profile(u.ID)
		now := e.clock.Advance(time.Hour)
		accepted := now.Add(-time.Minute)
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			p, err := tx.Profile()
			if err != nil {
				return err
			}
			p.DisplayName = "Grace Hopper"
			p.OnboardingCompleted = true
			p.AcceptedTermsAt = &accepted
			p.SubscriptionTier = polybot.TierEnterprise
			p.MonthlyTradeLimit = 1_000_000
			p.MaxTradeSizeUSD = polybot.MustDecimal("1000000")
			p.MaxPositions = 999
			p.TradesThisMonth = 77
			return tx.UpdateProfile(p)
		})
		want := *before
		want.DisplayName, want.OnboardingCompleted, want.AcceptedTermsAt, want.UpdatedAt = "Grace Hopper", true, &accepted, now
		wantEqual(t, "profile", &want, e.profile(u.ID))
	})

	t.Run("TouchLastActive sets last_active_at to the transaction's time", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.newUser("active@example.com")
		if p := e.profile(u.ID); p.LastActiveAt != nil {
			t.Fatalf("new profile has last_active_at %v", p.LastActiveAt)
		}
		now := e.clock.Advance(90 * time.Minute)
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error { return tx.TouchLastActive() })
		if p := e.profile(u.ID); p.LastActiveAt == nil || !p.LastActiveAt.Equal(now) {
			t.Fatalf("last_active_at = %v, want %v", p.LastActiveAt, now)
		}
	})
}
