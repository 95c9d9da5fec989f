package polybot

import (
	"context"
	"time"
)

// Store is PolyBot's storage. Both implementations (internal/sqlite and
// internal/postgres) pass the same conformance suite (internal/storetest).
//
// Every use runs inside one transaction. Tenant transactions see only the
// tenant's rows: on PostgreSQL the database enforces it with row-level
// security (the transaction carries the tenant's JWT claims and the
// authenticated role); on SQLite the store's queries do. Admin transactions are
// the narrow service path used by auth look-ups, sign-up, the bot manager and
// admin actions.
type Store interface {
	// Tenant runs fn in one transaction scoped to tenant. If fn returns an
	// error the transaction is rolled back and that error is returned.
	Tenant(ctx context.Context, tenant ID, fn func(TenantTx) error) error
	// TenantView is Tenant for a read-only transaction: it may run beside
	// other readers, and any write in it fails.
	TenantView(ctx context.Context, tenant ID, fn func(TenantTx) error) error
	// Admin runs fn in one transaction on the service path.
	Admin(ctx context.Context, fn func(AdminTx) error) error
	// AdminView is Admin for a read-only transaction.
	AdminView(ctx context.Context, fn func(AdminTx) error) error
	// Ping checks that the database answers (for /readyz).
	Ping(ctx context.Context) error
	// SetAuditKey gives the store the key that seals audit entries (see
	// secrets.LoadAuditKey). Until it is set every AppendAudit fails.
	SetAuditKey(k AuditKey)
	Close() error
}

// Migrator applies the embedded schema migrations.
type Migrator interface {
	// Migrate applies pending migrations and returns the schema version. A
	// database whose version is newer than this binary knows is refused.
	Migrate(ctx context.Context) (int, error)
}

// TenantTx is a transaction scoped to one tenant. No method reads or writes
// another tenant's rows. Not-found is an ENOTFOUND *Error, never (nil, nil).
type TenantTx interface {
	// Tenant is the tenant this transaction is scoped to.
	Tenant() ID
	// Now is the transaction's one clock reading.
	Now() time.Time
	// Lease is the tenant's current lease (ENOTFOUND if it never had one):
	// the risk gate's fence for intents made under a lease.
	Lease() (*Lease, error)

	User() (*User, error)
	Profile() (*Profile, error)
	// UpdateProfile stores the user-editable profile fields: display name,
	// onboarding_completed, accepted_terms_at. Limits and tier are admin-only.
	UpdateProfile(p *Profile) error
	// TouchLastActive sets last_active_at to Now.
	TouchLastActive() error

	Config() (*Config, error)
	// UpdateConfig stores every field of c and sets its UpdatedAt to Now.
	UpdateConfig(c *Config) error

	Secrets() ([]*Secret, error)
	Secret(platform Platform, paper bool) (*Secret, error)
	// PutSecret creates or replaces the secret for (platform, paper) and sets
	// its ID and timestamps.
	PutSecret(s *Secret) error
	// SetSecretValidation records the outcome of validating a key.
	SetSecretValidation(platform Platform, paper bool, status string, at time.Time) error
	DeleteSecret(platform Platform, paper bool) error

	// DataKey returns the tenant's wrapped data key (ENOTFOUND if none yet).
	DataKey() (*DataKey, error)
	// CreateDataKey stores the tenant's first data key (ECONFLICT if one exists).
	CreateDataKey(k *DataKey) error

	CreateSession(s *Session) error
	DeleteSession(id string) error

	APITokens() ([]*APIToken, error)
	CreateAPIToken(t *APIToken) error
	DeleteAPIToken(id ID) error

	// AppendAudit appends e to the audit chain with UserID set to the tenant.
	AppendAudit(e *AuditEntry) error
	// AuditTrail returns the tenant's own entries, newest first, with Seq < before
	// (0 means from the newest), at most limit.
	AuditTrail(before int64, limit int) ([]*AuditEntry, error)

	// IncrementTrades counts one trade against the monthly quota if, and only
	// if, fewer than the profile's limit were counted this month (Now's UTC
	// month; a new month starts at zero). When the quota is used up it returns
	// an EQUOTA *Error and counts nothing.
	IncrementTrades() (Quota, error)
	// CountTrade counts one trade this month even past the limit: a
	// risk-reducing order is never refused, but it is usage.
	CountTrade() (Quota, error)
	// ReleaseTrade gives back one trade counted this month (a rejected order).
	ReleaseTrade() (Quota, error)

	// --- trading state (see trading.go and risk.go) ---

	// LockTenant serialises this tenant's risk-gated writes until the
	// transaction ends (PostgreSQL: the profile row FOR UPDATE; SQLite: the
	// single writer already does). It fails in a TenantView.
	LockTenant() error
	// GlobalHalt is the platform-wide halt state an admin sets.
	GlobalHalt() (string, error)
	// HaltState is the tenant's effective halt state: the stricter of its
	// own (SetHaltState) and the one an admin set (AdminTx.SetUserHalt), so
	// a tenant cannot lift an admin's halt. SetHaltState sets the tenant's own.
	HaltState() (string, error)
	SetHaltState(state string) error
	// BotEnabled and SetBotEnabled are whether the tenant wants the bot running.
	BotEnabled() (bool, error)
	SetBotEnabled(on bool) error

	// InsertIntent persists an intent before it is sent (ECONFLICT if its
	// client order id exists; the transaction stays usable). UpdateIntent
	// stores its state, venue order id, filled size, fees and error, and
	// sets UpdatedAt to Now.
	InsertIntent(i *Intent) error
	UpdateIntent(i *Intent) error
	Intent(id string) (*Intent, error)
	// Intents lists intents in the given states (nil or empty: all) created
	// before the given time (zero: no bound), newest first (ties by client
	// order id, descending), at most limit (100 when limit <= 0).
	Intents(states []string, before time.Time, limit int) ([]*Intent, error)
	// FindIntents lists intents the filter selects, newest first (ties by
	// client order id, descending), at most f.Limit (100 when <= 0, 1000
	// at most). Callers validate f.
	FindIntents(f IntentFilter) ([]*Intent, error)

	// InsertFill records a fill (ECONFLICT if (venue, trade id) was seen;
	// the transaction stays usable, as RecordFill needs).
	InsertFill(f *TradeFill) error
	// Fills lists fills before the given time (zero: no bound), newest
	// first, at most limit (100 when limit <= 0).
	Fills(before time.Time, limit int) ([]*TradeFill, error)
	// FindFills lists fills the filter selects, newest first (ties in the
	// order they were recorded, latest first), at most f.Limit (100 when
	// <= 0, 1000 at most). Callers validate f.
	FindFills(f FillFilter) ([]*TradeFill, error)
	// Holding returns the position in inst (ENOTFOUND if none was ever held).
	Holding(inst Instrument, mode ExecMode) (*Holding, error)
	// PutHolding creates or replaces a position and sets UpdatedAt to Now.
	PutHolding(h *Holding) error
	Holdings() ([]*Holding, error)
	// AddDailyPnL adds to the day's realised P&L, fees and cash flow.
	AddDailyPnL(day string, mode ExecMode, realized, fees, cash Decimal) error
	// OpenDailyPnL records the day's opening value unless the day has
	// opened already (the first opening wins).
	OpenDailyPnL(day string, mode ExecMode, value Decimal) error
	// DailyPnL returns the day's totals (zero values if nothing was recorded).
	DailyPnL(day string, mode ExecMode) (*DailyPnL, error)
	// PnLByStrategy sums fills by strategy and mode.
	PnLByStrategy() ([]*StrategyPnL, error)

	// --- news arbitrage (news.go, news_store.go) ---

	// NewsRules lists the tenant's rules by id; NewsRule reads one.
	NewsRules() ([]*NewsRule, error)
	NewsRule(id string) (*NewsRule, error)
	// PutNewsRule checks r (NewsRule.ValidateStored, which fills in its
	// defaults), then creates or updates it: CreatedAt is kept on update,
	// UpdatedAt is Now. UserID is the tenant, whatever r says.
	PutNewsRule(r *NewsRule) error
	DeleteNewsRule(id string) error

	// NewsFeeds lists the tenant's own feeds by id (the platform's are
	// AdminTx's). PutNewsFeed checks f (NewsFeed.ValidateStored), then
	// creates or updates the tenant's feed, keeping CreatedAt and the
	// stored validators (SetFeedValidators writes those); an id that is
	// not the tenant's is ECONFLICT.
	NewsFeeds() ([]*NewsFeed, error)
	PutNewsFeed(f *NewsFeed) error
	DeleteNewsFeed(id string) error
	// SetFeedValidators stores the ETag and Last-Modified of the last 200
	// answer of one of the tenant's feeds.
	SetFeedValidators(id, etag, lastModified string) error

	// NewsHooks lists the tenant's webhooks by id, each with its sealed
	// secret; NewsHook reads one. PutNewsHook checks h, then creates it or
	// replaces its name and secret (CreatedAt kept); an id that is not the
	// tenant's is ECONFLICT.
	NewsHooks() ([]*NewsHook, error)
	NewsHook(id string) (*NewsHook, error)
	PutNewsHook(h *NewsHook) error
	DeleteNewsHook(id string) error

	// PutHeadline stores a headline from one of the tenant's own sources
	// (its feeds and webhooks), seen by the tenant only. It is idempotent
	// on the id: a headline the tenant already holds is left as it was. A
	// zero Received is Now.
	PutHeadline(h *Headline) error
	// Headlines lists the platform's headlines and the tenant's own,
	// received before the given time (zero: no bound), newest first, at
	// most NewsPageLimit(limit).
	Headlines(before time.Time, limit int) ([]*Headline, error)

	// PutNewsFire records what one of the tenant's rules did with a
	// headline (a zero At is Now). NewsFires lists them, newest first, at
	// most NewsPageLimit(limit).
	PutNewsFire(f *NewsFire) error
	NewsFires(limit int) ([]*NewsFire, error)

	// --- copy trading (copy.go, copy_store.go) ---

	// Leaders lists the tenant's leaders by id; Leader reads one.
	Leaders() ([]*Leader, error)
	Leader(id string) (*Leader, error)
	// PutLeader checks l (Leader.ValidateStored, which normalises the
	// address and fills in the default staleness), then creates or
	// updates it: CreatedAt is kept on update, UpdatedAt is Now, UserID
	// is the tenant. Following an address another of the tenant's leaders
	// follows is ECONFLICT naming address; a new leader past MaxLeaders is
	// EINVALID naming id. Changing a leader's address clears its cursor.
	PutLeader(l *Leader) error
	// DeleteLeader deletes a leader with its cursor and copy records.
	DeleteLeader(id string) error
	// LeaderCursor is the newest of the leader's trades the bot has seen:
	// its time and key (zero and "" before the first). ENOTFOUND if the
	// tenant has no such leader.
	LeaderCursor(leaderID string) (time.Time, string, error)
	// SetLeaderCursor moves the cursor forward: a time before the stored
	// one is ignored (a slower poller never moves it back).
	SetLeaderCursor(leaderID string, at time.Time, lastKey string) error
	// PutCopyRecord records what the bot did with a leader's trade (a zero
	// At is Now). It is idempotent on (leader, trade key): a trade already
	// recorded is left as it was. ENOTFOUND if the tenant has no such
	// leader.
	PutCopyRecord(c *CopyRecord) error
	// CopyRecords lists a leader's records ("": every leader's), newest
	// first, at most NewsPageLimit(limit).
	CopyRecords(leaderID string, limit int) ([]*CopyRecord, error)
	// CopyPnL sums the fills of the leader's copies (SumCopyPnL): strategy
	// copy_trading, intent opportunity CopyOpportunityID(leaderID, …).
	// ENOTFOUND if the tenant has no such leader.
	CopyPnL(leaderID string) (*CopyPnL, error)

	// --- billing (billing.go); the service path writes it ---

	// BillingAccount is the tenant's provider customer and subscription
	// (ENOTFOUND before the first one).
	BillingAccount() (*BillingAccount, error)
	// Invoices lists the tenant's invoices, newest first, at most
	// NewsPageLimit(limit).
	Invoices(limit int) ([]*Invoice, error)

	// --- notifications (notify.go) ---

	// NotifyDestinations lists the tenant's destinations by id, each with
	// its sealed secrets; NotifyDestination reads one. PutNotifyDestination
	// checks d, then creates or updates it (CreatedAt kept, UpdatedAt Now);
	// an id that is not the tenant's is ECONFLICT, and a new one past
	// MaxNotifyDestinations is EINVALID naming id. Deleting a destination
	// deletes its deliveries.
	NotifyDestinations() ([]*NotifyDestination, error)
	NotifyDestination(id string) (*NotifyDestination, error)
	PutNotifyDestination(d *NotifyDestination) error
	DeleteNotifyDestination(id string) error
	// InsertNotifyDelivery queues d in the outbox and sets its ID and
	// timestamps; false (and nothing written) when a delivery with its
	// idempotency key exists. The destination must be the tenant's.
	InsertNotifyDelivery(d *NotifyDelivery) (bool, error)
	// NotifyDeliveries lists deliveries the filter selects, newest first.
	// Callers validate f.
	NotifyDeliveries(f NotifyDeliveryFilter) ([]*NotifyDelivery, error)
	NotifyDelivery(id int64) (*NotifyDelivery, error)
	// UpdateNotifyDelivery stores d's state, attempts, next attempt, last
	// error and delivery time, and sets UpdatedAt to Now.
	UpdateNotifyDelivery(d *NotifyDelivery) error
	// SwapNotifyDelivery is UpdateNotifyDelivery on a condition: it stores
	// d (was.ID) only while the stored delivery is still as the caller
	// read it in was: pending, with was.Attempts attempts, due at
	// was.NextAt. It reports whether it stored d; a delivery changed or
	// deleted meanwhile is false, not an error. Of two transactions that
	// read the same delivery, only the first to commit its swap stores
	// (PostgreSQL re-checks the condition on the row the first wrote).
	SwapNotifyDelivery(was, d *NotifyDelivery) (bool, error)
}

// AdminTx is a transaction on the service path. It can see every tenant.
type AdminTx interface {
	Now() time.Time

	// CreateUser creates a user with its profile and config in one step. The
	// email must be unique (ECONFLICT otherwise).
	CreateUser(u *User, p *Profile, c *Config) error
	UserByID(id ID) (*User, error)
	UserByEmail(email string) (*User, error)
	// Users lists users with their profiles, ordered by creation, after the
	// given email cursor ("" for the start), at most limit.
	Users(after string, limit int) ([]*UserSummary, error)
	SetUserRole(id ID, role Role) error
	SetUserDisabled(id ID, disabled bool) error
	// SetUserTier moves a user to a tier and copies its limits onto the profile.
	SetUserTier(id ID, tier string) error

	Tiers() ([]*Tier, error)
	Tier(name string) (*Tier, error)
	// PutTier creates or updates a tier; profiles on it take its new limits.
	PutTier(t *Tier) error

	// SessionByID returns a live (unexpired) session.
	SessionByID(id string) (*Session, error)
	// SessionUser returns a live (unexpired) session and its user in one
	// look-up: what SessionByID and then UserByID(session.UserID) return, in
	// one query. A session that is unknown or expired is ENOTFOUND.
	SessionUser(id string) (*Session, *User, error)
	// TouchSession moves a session's last_seen_at and expires_at.
	TouchSession(id string, seen, expires time.Time) error
	DeleteExpiredSessions() (int, error)
	// UserSessions lists a user's live (unexpired) sessions, newest first.
	UserSessions(user ID) ([]*Session, error)
	// DeleteUserSessions deletes every session of user except the one whose
	// id is except ("" deletes all) and returns how many it deleted.
	DeleteUserSessions(user ID, except string) (int, error)
	// SetUserPassword stores a user's new password hash.
	SetUserPassword(id ID, hash string) error
	// APITokenByHash returns an unexpired token.
	APITokenByHash(hash string) (*APIToken, error)
	// APITokenUser returns an unexpired API token and its user in one
	// look-up: what APITokenByHash and then UserByID(token.UserID) return, in
	// one query. A token that is unknown or expired is ENOTFOUND.
	APITokenUser(hash string) (*APIToken, *User, error)
	TouchAPIToken(id ID, at time.Time) error

	// DataKeys returns every tenant's wrapped data key.
	DataKeys() ([]*DataKey, error)
	// ReplaceDataKey swaps a tenant's wrapped key if it is still oldWrapped
	// (ECONFLICT otherwise): key rotation never loses a concurrent change.
	ReplaceDataKey(k *DataKey, oldWrapped []byte) error

	// AppendAudit appends e to the audit chain.
	AppendAudit(e *AuditEntry) error
	// AuditEntries returns entries with Seq > after in order, at most limit.
	AuditEntries(after int64, limit int) ([]*AuditEntry, error)
	// AuditHead returns the last appended Seq and Hash as the chain records them.
	AuditHead() (int64, string, error)

	// AuditKey returns the wrapped audit key (ENOTFOUND before the chain is keyed).
	AuditKey() (*AuditKeyRecord, error)
	// KeyAuditChain keys the chain, once: under the chain's lock it re-seals
	// every existing entry (sealed with plain SHA-256) with the store's audit
	// key (SetAuditKey, the key k wraps), stores k and appends an AuditKeyed
	// entry. It returns how many entries it re-sealed. ECONFLICT if the chain
	// is already keyed; EINVALID, naming rows, if the old chain is broken.
	KeyAuditChain(k *AuditKeyRecord) (int64, error)
	// ReplaceAuditKey swaps the wrapped audit key if it is still oldWrapped
	// (ECONFLICT otherwise), for master-key rotation.
	ReplaceAuditKey(k *AuditKeyRecord, oldWrapped []byte) error

	// ActiveUserIDs lists users who are not disabled (for the bot manager).
	ActiveUserIDs() ([]ID, error)
	// BotUserIDs lists users who are not disabled and want their bot running.
	BotUserIDs() ([]ID, error)

	// ClaimLeases renews worker's unexpired leases and claims, up to
	// capacity leases in all, tenants that want their bot running and have
	// no live lease, each at its next epoch; it returns the worker's leases.
	// Two workers claiming at once take disjoint tenants.
	ClaimLeases(worker string, capacity int, ttl time.Duration) ([]*Lease, error)
	// ReleaseLeases ends worker's leases now (its shutdown).
	ReleaseLeases(worker string) error
	// Leases lists every tenant's lease, live or not.
	Leases() ([]*Lease, error)
	// LeasesAfter lists up to limit leases, live or not, of the tenants
	// after after in the store's order of tenant ids, in that order: a
	// reader of every lease pages through them (start from NilID) instead
	// of holding one long read.
	LeasesAfter(after ID, limit int) ([]*Lease, error)
	// LeasesClaimedSince lists the leases claimed (ClaimedAt) at or after
	// since, live or not, oldest claim first; with LeaseHorizons it lets a
	// gateway follow who holds which tenant without reading every lease.
	LeasesClaimedSince(since time.Time) ([]*Lease, error)
	// LeaseHorizons is, per worker holding or having held a lease, the
	// latest expiry of its leases: a renewal moves all of a worker's live
	// leases to the same expiry, so its leases run to that horizon.
	LeaseHorizons() ([]LeaseHorizon, error)
	// NextLapse is when the soonest live lease held by a worker other than
	// worker runs out (zero: none is held): a worker claims again then, so
	// a dead worker's tenants are taken as soon as they are free.
	NextLapse(worker string) (time.Time, error)

	GlobalHalt() (string, error)
	SetGlobalHalt(state string) error
	// SetUserHalt sets the admin's halt state for a tenant (a per-tenant
	// kill switch the tenant's own SetHaltState cannot lift).
	SetUserHalt(id ID, state string) error
	// SetUserBotEnabled is TenantTx.SetBotEnabled on the service path:
	// CreateAccount turns a new account's bot off until onboarding is done.
	SetUserBotEnabled(id ID, on bool) error

	// The matched-market registry for cross-platform arbitrage.
	MarketPairs() ([]*MarketPair, error)
	MarketPair(id string) (*MarketPair, error)
	// PutMarketPair creates or updates an entry and sets its timestamps.
	PutMarketPair(m *MarketPair) error
	DeleteMarketPair(id string) error

	// The overlap registry (overlapping arbitrage): outcome sets read from
	// the venues' multi-outcome events, and the relations an admin records
	// between markets and between sets. Lists are ordered by id.
	OutcomeSets() ([]*OutcomeSet, error)
	OutcomeSet(id string) (*OutcomeSet, error)
	// PutOutcomeSet validates s, then creates or updates it (CreatedAt kept
	// on update, UpdatedAt set).
	PutOutcomeSet(s *OutcomeSet) error
	// DeleteOutcomeSet deletes a set; ECONFLICT, naming them, while
	// equivalence relations name it.
	DeleteOutcomeSet(id string) error
	Relations() ([]*Relation, error)
	Relation(id string) (*Relation, error)
	// PutRelation validates r, then creates or updates it. The sets an
	// equivalence names must exist (EINVALID on set_a or set_b), and an
	// approved one must pass Relation.CheckSets.
	PutRelation(r *Relation) error
	DeleteRelation(id string) error

	// News arbitrage: the platform's feeds (UserID NilID), listed by id,
	// written as TenantTx writes a user's own; and the platform's
	// headlines, which every tenant sees.
	NewsFeeds() ([]*NewsFeed, error)
	PutNewsFeed(f *NewsFeed) error
	DeleteNewsFeed(id string) error
	SetFeedValidators(id, etag, lastModified string) error
	// EnabledNewsFeeds lists every enabled feed, the platform's and every
	// user's, by id, each with its owner in UserID (NilID: the platform):
	// what the poller polls. A user's feed's validators are written in
	// that user's transaction (TenantTx.SetFeedValidators).
	EnabledNewsFeeds() ([]*NewsFeed, error)
	// NewsHookOwner returns the tenant a webhook belongs to (ENOTFOUND if
	// there is no such hook): the inbound webhook endpoint, which has no
	// session, finds the tenant here and reads the hook's sealed secret in
	// the tenant's own transaction (TenantTx.NewsHook). The service path
	// never reads a secret.
	NewsHookOwner(id string) (ID, error)
	// PutHeadline stores a headline of a platform feed, seen by every
	// tenant; idempotent on the id, as TenantTx.PutHeadline.
	PutHeadline(h *Headline) error
	// Headlines lists the platform's headlines as TenantTx.Headlines does
	// (no tenant's own).
	Headlines(before time.Time, limit int) ([]*Headline, error)

	// FollowedWallets lists every enabled leader's address, once, with its
	// followers (user and leader id), ordered by address then user then
	// leader id: what the shared copy-trading poller polls. Cursors and
	// records are written in each follower's own transaction.
	FollowedWallets() ([]FollowedWallet, error)

	// Billing (billing.go): every billing row is written here, by webhooks
	// and the plan page's actions; a tenant only reads its own.
	// BillingPrices lists the tier → price map by tier; PutBillingPrice sets
	// one (PriceID "" removes it; a tier that does not exist is EINVALID
	// naming tier, a price another tier has is ECONFLICT naming price_id).
	BillingPrices() ([]*BillingPrice, error)
	PutBillingPrice(p *BillingPrice) error
	// BillingAccountOf reads a user's account (ENOTFOUND if none); in a
	// writing transaction it holds the account until the transaction ends,
	// so concurrent merges for one user run one after the other;
	// BillingOwner finds the user a provider customer is bound to.
	BillingAccountOf(user ID) (*BillingAccount, error)
	BillingOwner(customerID string) (ID, error)
	// PutBillingAccount creates or replaces a user's account (CreatedAt kept,
	// UpdatedAt Now). A customer id bound to another user is ECONFLICT.
	PutBillingAccount(a *BillingAccount) error
	// BilledUserIDs lists users with a subscription (the expiry sweep).
	BilledUserIDs() ([]ID, error)
	// MarkBillingEvent records a provider event id once: false if it was
	// recorded before (the event was applied already).
	MarkBillingEvent(id, kind string) (bool, error)
	// Invoice reads one invoice (ENOTFOUND if none); PutInvoice creates or
	// replaces one (an id stored for another user is ECONFLICT).
	Invoice(id string) (*Invoice, error)
	PutInvoice(i *Invoice) error
	// SetUserSubscription moves a user to tier, as SetUserTier, and sets
	// subscription_expires_at.
	SetUserSubscription(id ID, tier string, expires *time.Time) error

	// DueNotifyDeliveries lists pending deliveries whose next attempt is
	// at or before Now, soonest first, at most limit: only their tenant
	// and id (the dispatcher reads each in its tenant's transaction).
	DueNotifyDeliveries(limit int) ([]NotifyDue, error)
}

// StrategyPnL is realised P&L and fees by strategy and mode.
type StrategyPnL struct {
	Strategy string   `json:"strategy"`
	Mode     ExecMode `json:"mode"`
	Realized Decimal  `json:"realized"`
	Fees     Decimal  `json:"fees"`
	Fills    int      `json:"fills"`
}

// UserSummary is a row of the admin's user list.
type UserSummary struct {
	User    User    `json:"user"`
	Profile Profile `json:"profile"`
}

// NotFound returns an ENOTFOUND error for a kind of thing.
func NotFound(what string) *Error { return Errorf(ENOTFOUND, "%s not found", what) }
