package storetest

import (
	"testing"

	"github.com/polybot/polybot"
)

// badTexts are the strings PostgreSQL refuses in text columns (SQLSTATE
// 22021) and SQLite would store: every store must answer EINVALID instead.
var badTexts = map[string]string{"NUL": "a\x00b", "invalid UTF-8": "a\xffb"}

// testInput proves both stores refuse bad input with the same EINVALID field
// error, before any SQL runs, and hold every value the rules let through.
func testInput(t *testing.T, open Opener) {
	e := newEnv(t, open)
	u := e.newUser("input@example.com")
	goodPair := func() *polybot.MarketPair {
		return &polybot.MarketPair{ID: "fed-dec", Name: "Fed December", Legs: [2]polybot.PairLeg{polybot.PolymarketLeg("", "111", "222"), polybot.KalshiLeg("KXFED")}}
	}
	type attempt struct {
		name, field string
		run         func(bad string) error
	}
	cases := []attempt{
		{"CreateUser display_name", "display_name", func(bad string) error {
			return e.admin(func(tx polybot.AdminTx) error {
				tier, err := tx.Tier(polybot.TierFree)
				if err != nil {
					return err
				}
				nu := &polybot.User{ID: polybot.NewID(), Email: "new@example.com", Role: polybot.RoleUser}
				p := polybot.NewProfile(nu.ID, nu.Email, tier, tx.Now())
				p.DisplayName = bad
				return tx.CreateUser(nu, p, polybot.DefaultConfig(nu.ID, tx.Now()))
			})
		}},
		{"CreateUser email", "email", func(bad string) error {
			return e.admin(func(tx polybot.AdminTx) error {
				nu := &polybot.User{ID: polybot.NewID(), Email: bad + "@example.com", Role: polybot.RoleUser}
				return tx.CreateUser(nu, nil, nil)
			})
		}},
		{"UpdateProfile display_name", "display_name", func(bad string) error {
			return e.tenant(u.ID, func(tx polybot.TenantTx) error {
				p, err := tx.Profile()
				if err != nil {
					return err
				}
				p.DisplayName = bad
				return tx.UpdateProfile(p)
			})
		}},
		{"CreateAPIToken name", "name", func(bad string) error {
			return e.tenant(u.ID, func(tx polybot.TenantTx) error {
				return tx.CreateAPIToken(&polybot.APIToken{ID: polybot.NewID(), Name: bad, Hash: "h-" + polybot.NewID().String(), Prefix: "pbt_x"})
			})
		}},
		{"PutTier display_name", "display_name", func(bad string) error {
			return e.admin(func(tx polybot.AdminTx) error {
				tr := polybot.DefaultTiers()[0]
				tr.DisplayName = bad
				return tx.PutTier(&tr)
			})
		}},
		{"UpdateConfig timezone", "timezone", func(bad string) error {
			return e.tenant(u.ID, func(tx polybot.TenantTx) error {
				c, err := tx.Config()
				if err != nil {
					return err
				}
				c.Timezone = bad
				return tx.UpdateConfig(c)
			})
		}},
		{"UpdateConfig notification_channels", "notification_channels", func(bad string) error {
			return e.tenant(u.ID, func(tx polybot.TenantTx) error {
				c, err := tx.Config()
				if err != nil {
					return err
				}
				c.NotificationChannels = []string{"email", bad}
				return tx.UpdateConfig(c)
			})
		}},
		{"UpdateConfig advanced_config", "advanced_config", func(bad string) error {
			return e.tenant(u.ID, func(tx polybot.TenantTx) error {
				c, err := tx.Config()
				if err != nil {
					return err
				}
				if bad == badTexts["NUL"] {
					c.AdvancedConfig = []byte(`{"k":"a\u0000b"}`)
				} else {
					c.AdvancedConfig = []byte("{\"k\":\"" + bad + "\"}")
				}
				return tx.UpdateConfig(c)
			})
		}},
		{"Tier name", "tier", func(bad string) error {
			return e.adminView(func(tx polybot.AdminTx) error { _, err := tx.Tier(bad); return err })
		}},
		{"Users after", "after", func(bad string) error {
			return e.adminView(func(tx polybot.AdminTx) error { _, err := tx.Users(bad, 10); return err })
		}},
		{"MarketPair id", "id", func(bad string) error {
			return e.adminView(func(tx polybot.AdminTx) error { _, err := tx.MarketPair(bad); return err })
		}},
		{"DeleteMarketPair id", "id", func(bad string) error {
			return e.admin(func(tx polybot.AdminTx) error { return tx.DeleteMarketPair(bad) })
		}},
	}
	for field, set := range map[string]func(*polybot.MarketPair, string){
		"id":               func(m *polybot.MarketPair, s string) { m.ID = s },
		"name":             func(m *polybot.MarketPair, s string) { m.Name = s },
		"legs[0].yes":      func(m *polybot.MarketPair, s string) { m.Legs[0].Yes = s },
		"legs[0].no":       func(m *polybot.MarketPair, s string) { m.Legs[0].No = s },
		"legs[0].market":   func(m *polybot.MarketPair, s string) { m.Legs[0].Market = s },
		"legs[1].market":   func(m *polybot.MarketPair, s string) { m.Legs[1].Market = s },
		"resolution_notes": func(m *polybot.MarketPair, s string) { m.ResolutionNotes = s },
	} {
		cases = append(cases, attempt{"PutMarketPair " + field, field, func(bad string) error {
			return e.admin(func(tx polybot.AdminTx) error {
				m := goodPair()
				set(m, bad)
				return tx.PutMarketPair(m)
			})
		}})
	}
	for _, get := range []struct {
		name string
		run  func(tx polybot.AdminTx, id string) error
	}{
		{"OutcomeSet", func(tx polybot.AdminTx, id string) error { _, err := tx.OutcomeSet(id); return err }},
		{"Relation", func(tx polybot.AdminTx, id string) error { _, err := tx.Relation(id); return err }},
	} {
		cases = append(cases, attempt{get.name + " id", "id", func(bad string) error {
			return e.adminView(func(tx polybot.AdminTx) error { return get.run(tx, bad) })
		}})
	}
	cases = append(cases,
		attempt{"DeleteOutcomeSet id", "id", func(bad string) error {
			return e.admin(func(tx polybot.AdminTx) error { return tx.DeleteOutcomeSet(bad) })
		}},
		attempt{"DeleteRelation id", "id", func(bad string) error {
			return e.admin(func(tx polybot.AdminTx) error { return tx.DeleteRelation(bad) })
		}})
	for field, set := range map[string]func(*polybot.OutcomeSet, string){
		"id":                                func(s *polybot.OutcomeSet, v string) { s.ID = v },
		"name":                              func(s *polybot.OutcomeSet, v string) { s.Name = v },
		"event":                             func(s *polybot.OutcomeSet, v string) { s.Event = v },
		"resolution_notes":                  func(s *polybot.OutcomeSet, v string) { s.ResolutionNotes = v },
		"outcomes[1].label":                 func(s *polybot.OutcomeSet, v string) { s.Outcomes[1].Label = v },
		"outcomes[0].pair_id":               func(s *polybot.OutcomeSet, v string) { s.Outcomes[0].PairID = v },
		"outcomes[1].markets[0].yes.market": func(s *polybot.OutcomeSet, v string) { s.Outcomes[1].Markets[0].Yes.Market = v },
	} {
		cases = append(cases, attempt{"PutOutcomeSet " + field, field, func(bad string) error {
			return e.admin(func(tx polybot.AdminTx) error {
				s := kalshiSet("input-set", 2)
				set(s, bad)
				return tx.PutOutcomeSet(s)
			})
		}})
	}
	for field, set := range map[string]func(*polybot.Relation, string){
		"id":               func(r *polybot.Relation, v string) { r.ID = v },
		"name":             func(r *polybot.Relation, v string) { r.Name = v },
		"resolution_notes": func(r *polybot.Relation, v string) { r.ResolutionNotes = v },
		"a.yes.market":     func(r *polybot.Relation, v string) { r.A.Yes.Market = v },
		"b.no.token":       func(r *polybot.Relation, v string) { r.B.No.Token = v },
		"set_a": func(r *polybot.Relation, v string) {
			*r = *equivalence(r.ID, v, "input-set")
		},
	} {
		cases = append(cases, attempt{"PutRelation " + field, field, func(bad string) error {
			return e.admin(func(tx polybot.AdminTx) error {
				r := implication("input-relation")
				set(r, bad)
				return tx.PutRelation(r)
			})
		}})
	}
	for _, get := range []struct {
		name string
		run  func(tx polybot.TenantTx, id string) error
	}{
		{"NewsRule", func(tx polybot.TenantTx, id string) error { _, err := tx.NewsRule(id); return err }},
		{"DeleteNewsRule", func(tx polybot.TenantTx, id string) error { return tx.DeleteNewsRule(id) }},
		{"DeleteNewsFeed", func(tx polybot.TenantTx, id string) error { return tx.DeleteNewsFeed(id) }},
		{"SetFeedValidators", func(tx polybot.TenantTx, id string) error { return tx.SetFeedValidators(id, "", "") }},
		{"NewsHook", func(tx polybot.TenantTx, id string) error { _, err := tx.NewsHook(id); return err }},
		{"DeleteNewsHook", func(tx polybot.TenantTx, id string) error { return tx.DeleteNewsHook(id) }},
	} {
		cases = append(cases, attempt{get.name + " id", "id", func(bad string) error {
			return e.tenant(u.ID, func(tx polybot.TenantTx) error { return get.run(tx, bad) })
		}})
	}
	cases = append(cases,
		attempt{"NewsHookOwner id", "id", func(bad string) error {
			return e.adminView(func(tx polybot.AdminTx) error { _, err := tx.NewsHookOwner(bad); return err })
		}},
		attempt{"admin DeleteNewsFeed id", "id", func(bad string) error {
			return e.admin(func(tx polybot.AdminTx) error { return tx.DeleteNewsFeed(bad) })
		}},
		attempt{"SetFeedValidators etag", "etag", func(bad string) error {
			return e.tenant(u.ID, func(tx polybot.TenantTx) error { return tx.SetFeedValidators("feed-input", bad, "") })
		}},
		attempt{"admin SetFeedValidators last_modified", "last_modified", func(bad string) error {
			return e.admin(func(tx polybot.AdminTx) error { return tx.SetFeedValidators("feed-input", "", bad) })
		}},
		attempt{"PutNewsHook name", "name", func(bad string) error {
			return e.tenant(u.ID, func(tx polybot.TenantTx) error {
				return tx.PutNewsHook(&polybot.NewsHook{ID: "hook-input", Name: bad, Sealed: "s"})
			})
		}},
		attempt{"PutNewsHook id", "id", func(bad string) error {
			return e.tenant(u.ID, func(tx polybot.TenantTx) error {
				return tx.PutNewsHook(&polybot.NewsHook{ID: bad, Name: "n", Sealed: "s"})
			})
		}})
	for field, set := range map[string]func(*polybot.NewsRule, string){
		"id":         func(r *polybot.NewsRule, v string) { r.ID = v },
		"name":       func(r *polybot.NewsRule, v string) { r.Name = v },
		"all_of[0]":  func(r *polybot.NewsRule, v string) { r.AllOf = []string{"fed " + v} },
		"any_of[1]":  func(r *polybot.NewsRule, v string) { r.AnyOf[1] = v },
		"none_of[0]": func(r *polybot.NewsRule, v string) { r.NoneOf = []string{v} },
		"regex":      func(r *polybot.NewsRule, v string) { r.Regex = v },
		"sources[0]": func(r *polybot.NewsRule, v string) { r.Sources = []string{v} },
		"pairs[0]":   func(r *polybot.NewsRule, v string) { r.Pairs = []string{v} },
		"markets[0].yes.market": func(r *polybot.NewsRule, v string) {
			r.Markets[0].Yes.Market, r.Markets[0].No.Market = v, v
		},
	} {
		cases = append(cases, attempt{"PutNewsRule " + field, field, func(bad string) error {
			return e.tenant(u.ID, func(tx polybot.TenantTx) error {
				r := newsRule("input-rule", "input")
				set(r, bad)
				return tx.PutNewsRule(r)
			})
		}})
	}
	for field, set := range map[string]func(*polybot.NewsFeed, string){
		"id":   func(f *polybot.NewsFeed, v string) { f.ID = v },
		"name": func(f *polybot.NewsFeed, v string) { f.Name = v },
		"url":  func(f *polybot.NewsFeed, v string) { f.URL = "https://example.com/" + v },
	} {
		cases = append(cases,
			attempt{"PutNewsFeed " + field, field, func(bad string) error {
				return e.tenant(u.ID, func(tx polybot.TenantTx) error {
					f := newsFeed("feed-input", "input")
					set(f, bad)
					return tx.PutNewsFeed(f)
				})
			}},
			attempt{"admin PutNewsFeed " + field, field, func(bad string) error {
				return e.admin(func(tx polybot.AdminTx) error {
					f := newsFeed("feed-input", "input")
					set(f, bad)
					return tx.PutNewsFeed(f)
				})
			}})
	}
	for field, set := range map[string]func(*polybot.Headline, string){
		"id":          func(h *polybot.Headline, v string) { h.ID = v },
		"title":       func(h *polybot.Headline, v string) { h.Title = v },
		"link":        func(h *polybot.Headline, v string) { h.Link = "https://example.com/" + v },
		"source":      func(h *polybot.Headline, v string) { h.Source = v },
		"source_name": func(h *polybot.Headline, v string) { h.SourceName = v },
	} {
		cases = append(cases,
			attempt{"PutHeadline " + field, field, func(bad string) error {
				return e.tenant(u.ID, func(tx polybot.TenantTx) error {
					h := headline("h-input", "s", "t", T0)
					set(h, bad)
					return tx.PutHeadline(h)
				})
			}},
			attempt{"admin PutHeadline " + field, field, func(bad string) error {
				return e.admin(func(tx polybot.AdminTx) error {
					h := headline("h-input", "s", "t", T0)
					set(h, bad)
					return tx.PutHeadline(h)
				})
			}})
	}
	for field, set := range map[string]func(*polybot.NewsFire, string){
		"rule_id":        func(f *polybot.NewsFire, v string) { f.RuleID = v },
		"headline_id":    func(f *polybot.NewsFire, v string) { f.HeadlineID = v },
		"action":         func(f *polybot.NewsFire, v string) { f.Action = v },
		"opportunity_id": func(f *polybot.NewsFire, v string) { f.OpportunityID = v },
		"error":          func(f *polybot.NewsFire, v string) { f.Error = v },
	} {
		cases = append(cases, attempt{"PutNewsFire " + field, field, func(bad string) error {
			return e.tenant(u.ID, func(tx polybot.TenantTx) error {
				f := &polybot.NewsFire{RuleID: "r", HeadlineID: "h", Action: "ordered"}
				set(f, bad)
				return tx.PutNewsFire(f)
			})
		}})
	}
	for _, c := range cases {
		for kind, bad := range badTexts {
			t.Run(c.name+" refuses "+kind, func(t *testing.T) {
				err := c.run(bad)
				wantCode(t, err, polybot.EINVALID, c.name)
				if polybot.ErrorFields(err)[c.field] == "" {
					t.Fatalf("%s: %v does not name %q", c.name, err, c.field)
				}
			})
		}
	}

	t.Run("PutTier refuses limits past what both stores hold", func(t *testing.T) {
		for _, f := range []struct {
			field string
			set   func(*polybot.Tier)
		}{
			{"monthly_trade_limit", func(tr *polybot.Tier) { tr.MonthlyTradeLimit = polybot.MaxStoredInt + 1 }},
			{"max_positions", func(tr *polybot.Tier) { tr.MaxPositions = polybot.MaxStoredInt + 1 }},
			{"monthly_trade_limit", func(tr *polybot.Tier) { tr.MonthlyTradeLimit = -1 }},
		} {
			err := e.admin(func(tx polybot.AdminTx) error {
				tr := polybot.DefaultTiers()[0]
				f.set(&tr)
				return tx.PutTier(&tr)
			})
			wantCode(t, err, polybot.EINVALID, "PutTier("+f.field+")")
			if polybot.ErrorFields(err)[f.field] == "" {
				t.Fatalf("PutTier: %v does not name %s", err, f.field)
			}
		}
	})

	t.Run("the largest values the rules allow are stored and read back", func(t *testing.T) {
		tr := polybot.DefaultTiers()[3]
		tr.MonthlyTradeLimit, tr.MaxPositions = polybot.MaxStoredInt, polybot.MaxStoredInt
		tr.DisplayName = "Énterprise ✓ 企业"
		e.mustAdmin(func(tx polybot.AdminTx) error { return tx.PutTier(&tr) })
		e.mustAdminView(func(tx polybot.AdminTx) error {
			got, err := tx.Tier(tr.Name)
			if err != nil {
				return err
			}
			if got.MonthlyTradeLimit != polybot.MaxStoredInt || got.MaxPositions != polybot.MaxStoredInt || got.DisplayName != tr.DisplayName {
				t.Fatalf("Tier read back %+v", got)
			}
			return nil
		})
		name := ""
		for range polybot.MaxDisplayNameChars {
			name += "ж"
		}
		e.mustTenant(u.ID, func(tx polybot.TenantTx) error {
			p, err := tx.Profile()
			if err != nil {
				return err
			}
			p.DisplayName = name
			return tx.UpdateProfile(p)
		})
		if got := e.profile(u.ID).DisplayName; got != name {
			t.Fatalf("display name read back %q", got)
		}
	})
}
