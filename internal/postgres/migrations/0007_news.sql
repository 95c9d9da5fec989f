-- News arbitrage (polybot.NewsRule, NewsFeed, NewsHook, Headline,
-- NewsFire). Table and column names are shared with internal/sqlite.
-- Durations are whole seconds; money NUMERIC(19,6).
--
-- Privileges, in short (the same split as 0004):
--   authenticated       reads its own rules, feeds, hooks (with their
--                       sealed secrets, as polybot_user_secrets) and fires,
--                       and its own and the platform's headlines
--                       (user_id NULL). It writes none of them: a rule
--                       decides trades, so only the application, which
--                       validates it, stores one.
--   polybot_tenant_app  the application's writes in the tenant's
--                       transaction, bound to the tenant's claims.
--   polybot_service     the platform's feeds and headlines (user_id NULL);
--                       reads every feed (the poller polls users' feeds
--                       too) and the owner of a hook (id, user_id: not its
--                       secret). No access to rules or fires.

CREATE TABLE polybot_news_rules (
	user_id uuid NOT NULL REFERENCES polybot_users (id) ON DELETE CASCADE,
	id text NOT NULL CHECK (length(id) BETWEEN 1 AND 64),
	name text NOT NULL,
	enabled boolean NOT NULL DEFAULT true,
	all_of jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(all_of) = 'array'),
	any_of jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(any_of) = 'array'),
	none_of jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(none_of) = 'array'),
	regex text NOT NULL DEFAULT '',
	sources jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(sources) = 'array'),
	mode text NOT NULL CHECK (mode IN ('direct', 'lag')),
	pairs jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(pairs) = 'array'),
	markets jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(markets) = 'array'),
	outcome text NOT NULL CHECK (outcome IN ('YES', 'NO')),
	max_price numeric(19,6) NOT NULL,
	max_size numeric(19,6) NOT NULL,
	window_seconds integer NOT NULL CHECK (window_seconds > 0),
	cooldown_seconds integer NOT NULL CHECK (cooldown_seconds >= 0),
	threshold numeric(19,6) NOT NULL DEFAULT 0,
	take_profit numeric(19,6) NOT NULL DEFAULT 0,
	stop_loss numeric(19,6) NOT NULL DEFAULT 0,
	time_stop_seconds integer NOT NULL CHECK (time_stop_seconds > 0),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (user_id, id)
);

-- Feeds: the platform's (user_id NULL) and users' own; ids are unique
-- across both, as a headline's source names one.
CREATE TABLE polybot_news_feeds (
	id text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
	user_id uuid REFERENCES polybot_users (id) ON DELETE CASCADE,
	name text NOT NULL,
	url text NOT NULL,
	every_seconds integer NOT NULL CHECK (every_seconds > 0),
	enabled boolean NOT NULL DEFAULT true,
	etag text NOT NULL DEFAULT '',
	last_modified text NOT NULL DEFAULT '',
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX polybot_news_feeds_user_idx ON polybot_news_feeds (user_id, id);

-- A user's signed webhook; secret is sealed under the user's data key.
CREATE TABLE polybot_news_hooks (
	id text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
	user_id uuid NOT NULL REFERENCES polybot_users (id) ON DELETE CASCADE,
	name text NOT NULL,
	secret text NOT NULL CHECK (secret <> ''),
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX polybot_news_hooks_user_idx ON polybot_news_hooks (user_id, id);

-- Headlines: the platform's (user_id NULL) and users' own. An id is kept
-- once per owner.
CREATE TABLE polybot_news_headlines (
	seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id uuid REFERENCES polybot_users (id) ON DELETE CASCADE,
	id text NOT NULL CHECK (length(id) BETWEEN 1 AND 64),
	source text NOT NULL DEFAULT '',
	source_name text NOT NULL DEFAULT '',
	title text NOT NULL,
	link text NOT NULL DEFAULT '',
	published timestamptz,
	received timestamptz NOT NULL,
	CONSTRAINT polybot_news_headlines_owner_id UNIQUE NULLS NOT DISTINCT (user_id, id)
);
CREATE INDEX polybot_news_headlines_received_idx ON polybot_news_headlines (received, seq);
CREATE INDEX polybot_news_headlines_user_idx ON polybot_news_headlines (user_id, received, seq);

-- What a user's rule did with a headline.
CREATE TABLE polybot_news_fires (
	seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id uuid NOT NULL REFERENCES polybot_users (id) ON DELETE CASCADE,
	rule_id text NOT NULL,
	headline_id text NOT NULL,
	at timestamptz NOT NULL,
	action text NOT NULL,
	opportunity_id text NOT NULL DEFAULT '',
	latency_micros bigint NOT NULL DEFAULT 0 CHECK (latency_micros >= 0),
	error text NOT NULL DEFAULT ''
);
CREATE INDEX polybot_news_fires_user_idx ON polybot_news_fires (user_id, at, seq);

-- Row-level security on every table, forced for the owner too.
ALTER TABLE polybot_news_rules ENABLE ROW LEVEL SECURITY;
ALTER TABLE polybot_news_rules FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_own ON polybot_news_rules TO authenticated
	USING (user_id = (SELECT auth.uid()));
CREATE POLICY tenant_app_own ON polybot_news_rules TO polybot_tenant_app
	USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));

ALTER TABLE polybot_news_feeds ENABLE ROW LEVEL SECURITY;
ALTER TABLE polybot_news_feeds FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_own ON polybot_news_feeds TO authenticated
	USING (user_id = (SELECT auth.uid()));
CREATE POLICY tenant_app_own ON polybot_news_feeds TO polybot_tenant_app
	USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));
CREATE POLICY service_read ON polybot_news_feeds FOR SELECT TO polybot_service USING (true);
CREATE POLICY service_platform_insert ON polybot_news_feeds FOR INSERT TO polybot_service
	WITH CHECK (user_id IS NULL);
CREATE POLICY service_platform_update ON polybot_news_feeds FOR UPDATE TO polybot_service
	USING (user_id IS NULL) WITH CHECK (user_id IS NULL);
CREATE POLICY service_platform_delete ON polybot_news_feeds FOR DELETE TO polybot_service
	USING (user_id IS NULL);

ALTER TABLE polybot_news_hooks ENABLE ROW LEVEL SECURITY;
ALTER TABLE polybot_news_hooks FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_own ON polybot_news_hooks TO authenticated
	USING (user_id = (SELECT auth.uid()));
CREATE POLICY tenant_app_own ON polybot_news_hooks TO polybot_tenant_app
	USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));
CREATE POLICY service_owner ON polybot_news_hooks FOR SELECT TO polybot_service USING (true);

ALTER TABLE polybot_news_headlines ENABLE ROW LEVEL SECURITY;
ALTER TABLE polybot_news_headlines FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_own_and_shared ON polybot_news_headlines FOR SELECT TO authenticated
	USING (user_id IS NULL OR user_id = (SELECT auth.uid()));
CREATE POLICY tenant_app_own ON polybot_news_headlines TO polybot_tenant_app
	USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));
CREATE POLICY service_shared ON polybot_news_headlines TO polybot_service
	USING (user_id IS NULL) WITH CHECK (user_id IS NULL);

ALTER TABLE polybot_news_fires ENABLE ROW LEVEL SECURITY;
ALTER TABLE polybot_news_fires FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_own ON polybot_news_fires TO authenticated
	USING (user_id = (SELECT auth.uid()));
CREATE POLICY tenant_app_own ON polybot_news_fires TO polybot_tenant_app
	USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));

-- Table privileges: nothing for PUBLIC; for each role only what the
-- store's methods use.
REVOKE ALL ON polybot_news_rules, polybot_news_feeds, polybot_news_hooks, polybot_news_headlines,
	polybot_news_fires FROM PUBLIC;

GRANT SELECT ON polybot_news_rules, polybot_news_feeds, polybot_news_hooks, polybot_news_headlines,
	polybot_news_fires TO authenticated;

GRANT SELECT, INSERT, UPDATE, DELETE ON polybot_news_rules, polybot_news_feeds, polybot_news_hooks
	TO polybot_tenant_app;
GRANT SELECT, INSERT ON polybot_news_headlines, polybot_news_fires TO polybot_tenant_app;

GRANT SELECT, INSERT, UPDATE, DELETE ON polybot_news_feeds TO polybot_service;
GRANT SELECT (id, user_id) ON polybot_news_hooks TO polybot_service;
GRANT SELECT, INSERT ON polybot_news_headlines TO polybot_service;
