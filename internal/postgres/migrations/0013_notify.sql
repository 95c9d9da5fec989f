-- Notifications (polybot.NotifyDestination, NotifyDelivery). Table and
-- column names are shared with internal/sqlite.
--
-- Privileges, in short (the same split as 0004 and 0007):
--   authenticated       reads its own destinations (with their sealed
--                       secrets, as polybot_user_secrets) and deliveries.
--                       It writes neither: only the application, which
--                       validates and seals, stores them.
--   polybot_tenant_app  the application's writes in the tenant's
--                       transaction, bound to the tenant's claims: the
--                       outbox row is written in the same transaction as
--                       the trade that caused it.
--   polybot_service     reads which deliveries are due (user_id, id,
--                       state, next_at): never a payload or a secret.

CREATE TABLE polybot_notify_destinations (
	user_id uuid NOT NULL REFERENCES polybot_users (id) ON DELETE CASCADE,
	id text NOT NULL CHECK (length(id) BETWEEN 1 AND 64),
	channel text NOT NULL CHECK (channel IN ('email', 'telegram', 'discord', 'webhook')),
	name text NOT NULL,
	target text NOT NULL,
	events jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(events) = 'array'),
	enabled boolean NOT NULL DEFAULT true,
	verify_hash text NOT NULL DEFAULT '',
	verified_at timestamptz,
	sealed jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(sealed) = 'object'),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (user_id, id)
);

CREATE TABLE polybot_notify_deliveries (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id uuid NOT NULL,
	destination_id text NOT NULL,
	channel text NOT NULL,
	idem_key text NOT NULL,
	event_id text NOT NULL,
	event text NOT NULL,
	payload jsonb NOT NULL,
	state text NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
	attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	next_at timestamptz NOT NULL,
	last_error text NOT NULL DEFAULT '',
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	delivered_at timestamptz,
	UNIQUE (user_id, idem_key),
	FOREIGN KEY (user_id, destination_id) REFERENCES polybot_notify_destinations (user_id, id) ON DELETE CASCADE
);
CREATE INDEX polybot_notify_deliveries_due_idx ON polybot_notify_deliveries (next_at) WHERE state = 'pending';
CREATE INDEX polybot_notify_deliveries_user_idx ON polybot_notify_deliveries (user_id, id);

ALTER TABLE polybot_notify_destinations ENABLE ROW LEVEL SECURITY;
ALTER TABLE polybot_notify_destinations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_own ON polybot_notify_destinations TO authenticated
	USING (user_id = (SELECT auth.uid()));
CREATE POLICY tenant_app_own ON polybot_notify_destinations TO polybot_tenant_app
	USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));

ALTER TABLE polybot_notify_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE polybot_notify_deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_own ON polybot_notify_deliveries TO authenticated
	USING (user_id = (SELECT auth.uid()));
CREATE POLICY tenant_app_own ON polybot_notify_deliveries TO polybot_tenant_app
	USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));
CREATE POLICY service_due ON polybot_notify_deliveries FOR SELECT TO polybot_service USING (true);

REVOKE ALL ON polybot_notify_destinations, polybot_notify_deliveries FROM PUBLIC;
GRANT SELECT ON polybot_notify_destinations, polybot_notify_deliveries TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON polybot_notify_destinations TO polybot_tenant_app;
GRANT SELECT, INSERT, UPDATE ON polybot_notify_deliveries TO polybot_tenant_app;
GRANT SELECT (user_id, id, state, next_at) ON polybot_notify_deliveries TO polybot_service;
