-- Copy trading (polybot.Leader, CopyRecord). Table and column names are
-- shared with internal/sqlite. Durations are whole seconds; money
-- NUMERIC(19,6).
--
-- Privileges, in short (the same split as the news tables, 0007):
--   authenticated       reads its own leaders (with their cursors) and
--                       copy records. It writes none of them: a leader
--                       decides trades, so only the application, which
--                       validates it, stores one.
--   polybot_tenant_app  the application's writes in the tenant's
--                       transaction, bound to the tenant's claims.
--   polybot_service     reads the followed wallets only: a leader's
--                       owner, id, address and whether it is enabled (the
--                       shared poller). Not its sizing, its cursor nor any
--                       copy record.

CREATE TABLE polybot_copy_leaders (
	user_id uuid NOT NULL REFERENCES polybot_users (id) ON DELETE CASCADE,
	id text NOT NULL CHECK (length(id) BETWEEN 1 AND 64),
	address text NOT NULL CHECK (length(address) = 42),
	label text NOT NULL DEFAULT '',
	enabled boolean NOT NULL DEFAULT true,
	mode text NOT NULL CHECK (mode IN ('proportional', 'fixed', 'balance_pct')),
	multiplier numeric(19,6) NOT NULL DEFAULT 0,
	fixed_usd numeric(19,6) NOT NULL DEFAULT 0,
	balance_pct numeric(19,6) NOT NULL DEFAULT 0,
	max_trade_usd numeric(19,6) NOT NULL DEFAULT 0,
	max_market_usd numeric(19,6) NOT NULL DEFAULT 0,
	max_day_usd numeric(19,6) NOT NULL DEFAULT 0,
	min_leader_usd numeric(19,6) NOT NULL DEFAULT 0,
	price_guard numeric(19,6) NOT NULL DEFAULT 0,
	max_age_seconds integer NOT NULL CHECK (max_age_seconds > 0),
	cursor_at timestamptz,
	cursor_key text NOT NULL DEFAULT '',
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (user_id, id),
	CONSTRAINT polybot_copy_leaders_address UNIQUE (user_id, address)
);
CREATE INDEX polybot_copy_leaders_followed_idx ON polybot_copy_leaders (address, user_id, id) WHERE enabled;

-- What a user's bot did with one leader trade: one row per (leader,
-- trade key), the first kept.
CREATE TABLE polybot_copy_records (
	seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id uuid NOT NULL,
	leader_id text NOT NULL,
	trade_key text NOT NULL CHECK (length(trade_key) BETWEEN 1 AND 200),
	leader_side text NOT NULL CHECK (leader_side IN ('BUY', 'SELL')),
	leader_price numeric(19,6) NOT NULL,
	leader_size numeric(19,6) NOT NULL,
	leader_time timestamptz NOT NULL,
	venue text NOT NULL DEFAULT '',
	market text NOT NULL DEFAULT '',
	token text NOT NULL DEFAULT '',
	outcome text NOT NULL DEFAULT 'YES' CHECK (outcome IN ('YES', 'NO')),
	title text NOT NULL DEFAULT '',
	action text NOT NULL CHECK (action IN ('copied', 'skipped', 'exit')),
	reason text NOT NULL DEFAULT '',
	opportunity_id text NOT NULL DEFAULT '',
	size numeric(19,6) NOT NULL DEFAULT 0,
	price numeric(19,6) NOT NULL DEFAULT 0,
	at timestamptz NOT NULL,
	CONSTRAINT polybot_copy_records_trade UNIQUE (user_id, leader_id, trade_key),
	FOREIGN KEY (user_id, leader_id) REFERENCES polybot_copy_leaders (user_id, id) ON DELETE CASCADE
);
CREATE INDEX polybot_copy_records_leader_idx ON polybot_copy_records (user_id, leader_id, at, seq);
CREATE INDEX polybot_copy_records_user_idx ON polybot_copy_records (user_id, at, seq);

ALTER TABLE polybot_copy_leaders ENABLE ROW LEVEL SECURITY;
ALTER TABLE polybot_copy_leaders FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_own ON polybot_copy_leaders TO authenticated
	USING (user_id = (SELECT auth.uid()));
CREATE POLICY tenant_app_own ON polybot_copy_leaders TO polybot_tenant_app
	USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));
CREATE POLICY service_followed ON polybot_copy_leaders FOR SELECT TO polybot_service USING (true);

ALTER TABLE polybot_copy_records ENABLE ROW LEVEL SECURITY;
ALTER TABLE polybot_copy_records FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_own ON polybot_copy_records TO authenticated
	USING (user_id = (SELECT auth.uid()));
CREATE POLICY tenant_app_own ON polybot_copy_records TO polybot_tenant_app
	USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));

REVOKE ALL ON polybot_copy_leaders, polybot_copy_records FROM PUBLIC;

GRANT SELECT ON polybot_copy_leaders, polybot_copy_records TO authenticated;

GRANT SELECT, INSERT, UPDATE, DELETE ON polybot_copy_leaders TO polybot_tenant_app;
GRANT SELECT, INSERT ON polybot_copy_records TO polybot_tenant_app;

GRANT SELECT (user_id, id, address, enabled) ON polybot_copy_leaders TO polybot_service;
