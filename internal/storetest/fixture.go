package storetest

import (
	"slices"
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

	intents  []*polybot.Intent
	fills    []*polybot.TradeFill
	holdings []*polybot.Holding

	// News (see seedNews).
	rules     []*polybot.NewsRule
	feed      *polybot.NewsFeed
	hook      *polybot.NewsHook
	headlines []*polybot.Headline
	fires     []*polybot.NewsFire

	// Copy trading (see seedCopy).
	leaders []*polybot.Leader
	copies  []*polybot.CopyRecord
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
		if err := e.seedTrading(tx, f); err != nil {
			return err
		}
		if err := e.seedNews(tx, f); err != nil {
			return err
		}
		if err := e.seedCopy(tx, f); err != nil {
			return err
		}
		return e.seedNotify(tx, f)
	})
	e.seedBilling(f)
	e.seedPlatformNews()
	return f
}

// Trading fixture. Every tenant holds an intent with the same client order
// id, a fill with the same (venue, trade id) and a position in the same
// instrument, so that a query which forgets the tenant meets another
// tenant's row; and one intent, fill and position of its own.
var (
	sharedInstrument = polybot.Instrument{Venue: polybot.Polymarket, Market: "0xshared", Token: "111222333", Outcome: polybot.Yes}
	sharedIntentID   = "pbshared-intent"
	sharedTradeID    = "shared-trade"
)

// ownInstrument is the tenant's own Kalshi instrument.
func ownInstrument(tag string) polybot.Instrument {
	return polybot.Instrument{Venue: polybot.Kalshi, Market: "ONLY-" + tag, Outcome: polybot.No}
}

func ownIntentID(tag string) string { return "pbintent-" + tag }
func ownTradeID(tag string) string  { return "trade-" + tag }

// tagAmount is a decimal that names its tenant: 1.11 for a, 2.22 for b.
func tagAmount(tag string) polybot.Decimal {
	switch tag {
	case "a":
		return polybot.MustDecimal("1.11")
	case "b":
		return polybot.MustDecimal("2.22")
	}
	return polybot.MustDecimal("0.5")
}

func (e *env) seedTrading(tx polybot.TenantTx, f *tenantFixture) error {
	tag, amt := f.tag, tagAmount(f.tag)
	f.intents = []*polybot.Intent{
		{ID: sharedIntentID, OpportunityID: "opp-" + tag, Strategy: polybot.StrategySinglePlatform, Leg: 0,
			Mode: polybot.DryRun, Instrument: sharedInstrument, Side: polybot.Buy, Price: polybot.MustDecimal("0.41"),
			Size: amt, TIF: polybot.FOK, State: polybot.IntentOpen, VenueOrderID: "venue-order-" + tag},
		{ID: ownIntentID(tag), OpportunityID: "opp-own-" + tag, Strategy: polybot.StrategyCrossPlatform, Leg: 1,
			Mode: polybot.Live, Instrument: ownInstrument(tag), Side: polybot.Buy, Price: polybot.MustDecimal("0.52"),
			Size: amt, TIF: polybot.GTC, State: polybot.IntentPending},
	}
	for _, in := range f.intents {
		if err := tx.InsertIntent(in); err != nil {
			return err
		}
	}
	f.fills = []*polybot.TradeFill{
		{Venue: polybot.Polymarket, TradeID: sharedTradeID, ClientOrderID: sharedIntentID, Strategy: polybot.StrategySinglePlatform,
			Mode: polybot.DryRun, Instrument: sharedInstrument, Side: polybot.Buy, Price: polybot.MustDecimal("0.41"),
			Size: amt, Fee: polybot.MustDecimal("0.01"), Time: tx.Now()},
		{Venue: polybot.Kalshi, TradeID: ownTradeID(tag), ClientOrderID: ownIntentID(tag), Strategy: polybot.StrategyCrossPlatform,
			Mode: polybot.Live, Instrument: ownInstrument(tag), Side: polybot.Sell, Price: polybot.MustDecimal("0.52"),
			Size: amt, Fee: polybot.MustDecimal("0.02"), RealizedPnL: amt.Neg(), Time: tx.Now()},
	}
	for _, x := range f.fills {
		if err := tx.InsertFill(x); err != nil {
			return err
		}
	}
	f.holdings = []*polybot.Holding{
		{Instrument: sharedInstrument, Mode: polybot.DryRun, Size: amt, AvgPrice: polybot.MustDecimal("0.411"), RealizedPnL: amt},
		{Instrument: ownInstrument(tag), Mode: polybot.Live, Size: amt.MulInt(2), AvgPrice: polybot.MustDecimal("0.52"), RealizedPnL: amt.Neg()},
	}
	for _, h := range f.holdings {
		if err := tx.PutHolding(h); err != nil {
			return err
		}
	}
	for _, mode := range []polybot.ExecMode{polybot.DryRun, polybot.Live} {
		if err := tx.AddDailyPnL(polybot.Day(tx.Now()), mode, amt, polybot.MustDecimal("0.03"), amt); err != nil {
			return err
		}
	}
	if tag == "b" {
		if err := tx.SetHaltState(polybot.HaltReducingOnly); err != nil {
			return err
		}
		if err := tx.SetBotEnabled(false); err != nil {
			return err
		}
	}
	return nil
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

	// Trading state.
	Intents       []*polybot.Intent
	Fills         []*polybot.TradeFill
	Holdings      []*polybot.Holding
	DailyPnL      []*polybot.DailyPnL // T0's day, dry run then live
	PnLByStrategy []*polybot.StrategyPnL
	HaltState     string
	BotEnabled    bool
	BotListed     bool // AdminTx.BotUserIDs lists it

	// News.
	NewsRules    []*polybot.NewsRule
	NewsFeeds    []*polybot.NewsFeed
	NewsHooks    []*polybot.NewsHook
	Headlines    []*polybot.Headline // the tenant's own and the platform's
	NewsFires    []*polybot.NewsFire
	EnabledFeeds []*polybot.NewsFeed // AdminTx.EnabledNewsFeeds, the tenant's only
	HookOwner    polybot.ID          // AdminTx.NewsHookOwner of the fixture's hook

	// Copy trading.
	Leaders     []*polybot.Leader
	Cursors     map[string]leaderCursor
	CopyRecords []*polybot.CopyRecord
	Followed    []string // AdminTx.FollowedWallets, the tenant's part

	// Billing.
	Billing  *polybot.BillingAccount
	Invoices []*polybot.Invoice
	// Notifications.
	NotifyDestinations []*polybot.NotifyDestination
	NotifyDeliveries   []*polybot.NotifyDelivery
	NotifyDue          []int64 // AdminTx.DueNotifyDeliveries, the tenant's part

	Errors map[string]string
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
		s.Intents, err = tx.Intents(nil, time.Time{}, 1000)
		keep("Intents", err)
		s.Fills, err = tx.Fills(time.Time{}, 1000)
		keep("Fills", err)
		s.Holdings, err = tx.Holdings()
		keep("Holdings", err)
		for _, mode := range []polybot.ExecMode{polybot.DryRun, polybot.Live} {
			d, err := tx.DailyPnL(polybot.Day(T0), mode)
			keep("DailyPnL "+string(mode), err)
			s.DailyPnL = append(s.DailyPnL, d)
		}
		s.PnLByStrategy, err = tx.PnLByStrategy()
		keep("PnLByStrategy", err)
		s.HaltState, err = tx.HaltState()
		keep("HaltState", err)
		s.BotEnabled, err = tx.BotEnabled()
		keep("BotEnabled", err)
		s.NewsRules, err = tx.NewsRules()
		keep("NewsRules", err)
		s.NewsFeeds, err = tx.NewsFeeds()
		keep("NewsFeeds", err)
		s.NewsHooks, err = tx.NewsHooks()
		keep("NewsHooks", err)
		s.Headlines, err = tx.Headlines(time.Time{}, 1000)
		keep("Headlines", err)
		s.NewsFires, err = tx.NewsFires(1000)
		keep("NewsFires", err)
		copyState(tx, s, keep)
		billingState(tx, s, keep)
		notifyState(tx, s, keep)
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
		bots, err := tx.BotUserIDs()
		keep("BotUserIDs", err)
		s.BotListed = slices.Contains(bots, f.user.ID)
		feeds, err := tx.EnabledNewsFeeds()
		keep("EnabledNewsFeeds", err)
		for _, x := range feeds {
			if x.UserID == f.user.ID {
				s.EnabledFeeds = append(s.EnabledFeeds, x)
			}
		}
		wallets, err := tx.FollowedWallets()
		keep("FollowedWallets", err)
		s.Followed = followedBy(wallets, f.user.ID)
		s.NotifyDue, err = dueOf(tx, f.user.ID)
		keep("DueNotifyDeliveries", err)
		if f.hook != nil {
			s.HookOwner, err = tx.NewsHookOwner(f.hook.ID)
			keep("NewsHookOwner", err)
		}
		return nil
	})
	return s
}
