-- PolyBot schema, version 2: trading state. Runs as polybot_owner, like
-- 0001. Table and column names are shared with internal/sqlite. Money is
-- NUMERIC(19,6).
--
-- Privileges, in short:
--   authenticated   its own intents (select, insert, update of the mutable
--                   columns), fills (select, insert: never updated or
--                   deleted), holdings and daily P&L (select and upsert);
--                   its own halt state and bot switch on its profile; reads
--                   the global settings and the market registry.
--   polybot_service the settings and the market registry (read and write),
--                   and every profile's halt state and bot switch (through
--                   its existing grants on polybot_user_profiles). It has no
--                   access to intents, fills, holdings or daily P&L: AdminTx
--                   does not read them.

-- A tenant's own halt state and bot switch, and an admin's halt state for
-- the tenant. The effective state is the stricter of the two, so a tenant
-- cannot lift an admin's halt: the tenant may update halt_state and
-- bot_enabled, never admin_halt_state.
ALTER TABLE polybot_user_profiles
	ADD COLUMN halt_state text NOT NULL DEFAULT 'active'
		CHECK (halt_state IN ('active', 'reducing_only', 'halted')),
	ADD COLUMN admin_halt_state text NOT NULL DEFAULT 'active'
		CHECK (admin_halt_state IN ('active', 'reducing_only', 'halted')),
	ADD COLUMN bot_enabled boolean NOT NULL DEFAULT true;

-- LockTenant is SELECT ... FOR UPDATE on the tenant's profile, which needs
-- an UPDATE privilege on some column: 0001 grants several.
GRANT UPDATE (halt_state, bot_enabled) ON polybot_user_profiles TO authenticated;

-- Orders a tenant's runner decided to send, persisted before they are sent.
-- id is the client order id (polybot.IntentID), unique per tenant.
CREATE TABLE polybot_order_intents (
	user_id uuid NOT NULL REFERENCES polybot_users (id) ON DELETE CASCADE,
	id text NOT NULL CHECK (length(id) BETWEEN 1 AND 128),
	opportunity_id text NOT NULL DEFAULT '',
	strategy text NOT NULL DEFAULT '',
	leg integer NOT NULL DEFAULT 0,
	mode text NOT NULL CHECK (mode IN ('dry_run', 'live')),
	venue text NOT NULL,
	market text NOT NULL DEFAULT '',
	token text NOT NULL DEFAULT '',
	outcome text NOT NULL CHECK (outcome IN ('YES', 'NO')),
	side text NOT NULL CHECK (side IN ('BUY', 'SELL')),
	price numeric(19,6) NOT NULL,
	size numeric(19,6) NOT NULL,
	tif text NOT NULL DEFAULT '',
	state text NOT NULL CHECK (state IN ('pending', 'open', 'filled', 'partial', 'cancelled', 'rejected', 'unknown')),
	venue_order_id text NOT NULL DEFAULT '',
	filled numeric(19,6) NOT NULL DEFAULT 0,
	fees numeric(19,6) NOT NULL DEFAULT 0,
	error text NOT NULL DEFAULT '',
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (user_id, id)
);
CREATE INDEX polybot_order_intents_state_idx ON polybot_order_intents (user_id, state, created_at);
CREATE INDEX polybot_order_intents_created_idx ON polybot_order_intents (user_id, created_at);

-- Fills, recorded once: (user_id, venue, trade_id) is unique.
CREATE TABLE polybot_fills (
	seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id uuid NOT NULL REFERENCES polybot_users (id) ON DELETE CASCADE,
	venue text NOT NULL,
	trade_id text NOT NULL CHECK (trade_id <> ''),
	client_order_id text NOT NULL DEFAULT '',
	strategy text NOT NULL DEFAULT '',
	mode text NOT NULL CHECK (mode IN ('dry_run', 'live')),
	market text NOT NULL DEFAULT '',
	token text NOT NULL DEFAULT '',
	outcome text NOT NULL CHECK (outcome IN ('YES', 'NO')),
	side text NOT NULL CHECK (side IN ('BUY', 'SELL')),
	price numeric(19,6) NOT NULL,
	size numeric(19,6) NOT NULL,
	fee numeric(19,6) NOT NULL DEFAULT 0,
	realized_pnl numeric(19,6) NOT NULL DEFAULT 0,
	filled_at timestamptz NOT NULL,
	UNIQUE (user_id, venue, trade_id)
);
CREATE INDEX polybot_fills_time_idx ON polybot_fills (user_id, filled_at, seq);
CREATE INDEX polybot_fills_strategy_idx ON polybot_fills (user_id, strategy, mode);

-- Positions, one per tenant, mode and instrument (polybot.Instrument.Key).
CREATE TABLE polybot_holdings (
	user_id uuid NOT NULL REFERENCES polybot_users (id) ON DELETE CASCADE,
	mode text NOT NULL CHECK (mode IN ('dry_run', 'live')),
	instrument_key text NOT NULL,
	venue text NOT NULL,
	market text NOT NULL DEFAULT '',
	token text NOT NULL DEFAULT '',
	outcome text NOT NULL CHECK (outcome IN ('YES', 'NO')),
	size numeric(19,6) NOT NULL CHECK (size >= 0),
	avg_price numeric(19,6) NOT NULL,
	realized_pnl numeric(19,6) NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (user_id, mode, instrument_key)
);

-- Realised P&L and fees per tenant, UTC day and mode.
CREATE TABLE polybot_daily_pnl (
	user_id uuid NOT NULL REFERENCES polybot_users (id) ON DELETE CASCADE,
	day date NOT NULL,
	mode text NOT NULL CHECK (mode IN ('dry_run', 'live')),
	realized numeric(19,6) NOT NULL DEFAULT 0,
	fees numeric(19,6) NOT NULL DEFAULT 0,
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (user_id, day, mode)
);

-- Platform-wide settings. global_halt is the admin's platform kill switch.
CREATE TABLE polybot_settings (
	key text PRIMARY KEY,
	value text NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now(),
	CHECK (key <> 'global_halt' OR value IN ('active', 'reducing_only', 'halted'))
);
INSERT INTO polybot_settings (key, value) VALUES ('global_halt', 'active');

-- The matched-market registry for cross-platform arbitrage.
CREATE TABLE polybot_market_pairs (
	id text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
	name text NOT NULL,
	polymarket_condition_id text NOT NULL DEFAULT '',
	polymarket_yes_token text NOT NULL,
	polymarket_no_token text NOT NULL,
	kalshi_ticker text NOT NULL,
	resolution_notes text NOT NULL DEFAULT '',
	approved boolean NOT NULL DEFAULT false,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);

-- The Fed's December 2025 decision, as both venues listed it (the event of
-- replay.FedDec2025HoldCSV). Its Polymarket condition id is not recorded.
INSERT INTO polybot_market_pairs (id, name, polymarket_yes_token, polymarket_no_token, kalshi_ticker,
	resolution_notes, approved)
VALUES ('fed-dec2025-hold', 'Fed decision December 2025: no change',
	'80746058984644290629624903019922696017323803605256698757445938534814122585786',
	'85970682092909806158465981896969493051954703765750954325716965011253694472992',
	'KXFEDDECISION-25DEC-H0',
	'Both markets resolve on the FOMC''s December 2025 decision (meeting of 9-10 December 2025): Polymarket''s "No change" market resolves YES, and Kalshi''s KXFEDDECISION-25DEC-H0 ("Hold") resolves Yes, if the FOMC holds the federal funds target range unchanged; a cut or a hike resolves both NO. Re-read both venues'' rules before trading: an unscheduled move or a postponed meeting may be treated differently.',
	true);

-- Row-level security on every tenant table, forced for the owner too.
-- There are no service policies: the admin path never touches these tables.
ALTER TABLE polybot_order_intents ENABLE ROW LEVEL SECURITY;
ALTER TABLE polybot_order_intents FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_own ON polybot_order_intents TO authenticated
	USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));

ALTER TABLE polybot_fills ENABLE ROW LEVEL SECURITY;
ALTER TABLE polybot_fills FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_own ON polybot_fills TO authenticated
	USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));

ALTER TABLE polybot_holdings ENABLE ROW LEVEL SECURITY;
ALTER TABLE polybot_holdings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_own ON polybot_holdings TO authenticated
	USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));

ALTER TABLE polybot_daily_pnl ENABLE ROW LEVEL SECURITY;
ALTER TABLE polybot_daily_pnl FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_own ON polybot_daily_pnl TO authenticated
	USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));

-- Table privileges: nothing for PUBLIC; tenants only the verbs and columns
-- the store's methods use.
REVOKE ALL ON polybot_order_intents, polybot_fills, polybot_holdings, polybot_daily_pnl,
	polybot_settings, polybot_market_pairs FROM PUBLIC;

GRANT SELECT, INSERT ON polybot_order_intents TO authenticated;
GRANT UPDATE (state, venue_order_id, filled, fees, error, updated_at) ON polybot_order_intents TO authenticated;

GRANT SELECT, INSERT ON polybot_fills TO authenticated;

GRANT SELECT, INSERT ON polybot_holdings TO authenticated;
GRANT UPDATE (size, avg_price, realized_pnl, updated_at) ON polybot_holdings TO authenticated;

GRANT SELECT, INSERT ON polybot_daily_pnl TO authenticated;
GRANT UPDATE (realized, fees, updated_at) ON polybot_daily_pnl TO authenticated;

GRANT SELECT ON polybot_settings TO authenticated;
GRANT SELECT, INSERT, UPDATE ON polybot_settings TO polybot_service;

GRANT SELECT ON polybot_market_pairs TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON polybot_market_pairs TO polybot_service;
