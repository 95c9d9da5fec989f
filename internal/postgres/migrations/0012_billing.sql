-- Billing (polybot.BillingAccount, Invoice, BillingPrice). Table and column
-- names are shared with internal/sqlite (0011_billing.sql). Money
-- NUMERIC(19,6) dollars.
--
-- Privileges, in short:
--   authenticated       reads its own billing account and invoices. It
--                       writes none of them: what a user is entitled to is
--                       decided by the payment provider's signed webhooks.
--   polybot_tenant_app  nothing: no tenant-side write exists.
--   polybot_service     the webhook handler, the expiry sweep and the admin:
--                       reads and writes every row; the price map and the
--                       processed events are its alone.

CREATE TABLE polybot_billing_prices (
	tier text PRIMARY KEY REFERENCES polybot_tiers (name) ON DELETE CASCADE,
	price_id text NOT NULL UNIQUE CHECK (length(price_id) BETWEEN 1 AND 255),
	updated_at timestamptz NOT NULL
);

CREATE TABLE polybot_billing_accounts (
	user_id uuid PRIMARY KEY REFERENCES polybot_users (id) ON DELETE CASCADE,
	customer_id text NOT NULL UNIQUE CHECK (length(customer_id) BETWEEN 1 AND 255),
	subscription_id text NOT NULL DEFAULT '',
	status text NOT NULL DEFAULT '',
	price_id text NOT NULL DEFAULT '',
	tier text NOT NULL DEFAULT '',
	period_start timestamptz,
	period_end timestamptz,
	cancel_at_period_end boolean NOT NULL DEFAULT false,
	hold_tier text NOT NULL DEFAULT '',
	hold_until timestamptz,
	sub_created timestamptz,
	version timestamptz,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL
);
CREATE INDEX polybot_billing_accounts_sub_idx ON polybot_billing_accounts (user_id) WHERE subscription_id <> '';

CREATE TABLE polybot_billing_invoices (
	id text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 255),
	user_id uuid NOT NULL REFERENCES polybot_users (id) ON DELETE CASCADE,
	subscription_id text NOT NULL DEFAULT '',
	number text NOT NULL DEFAULT '',
	status text NOT NULL,
	amount_due numeric(19,6) NOT NULL,
	amount_paid numeric(19,6) NOT NULL,
	currency text NOT NULL DEFAULT '',
	hosted_url text NOT NULL DEFAULT '',
	period_start timestamptz,
	period_end timestamptz,
	created timestamptz NOT NULL,
	failed_at timestamptz,
	version timestamptz,
	updated_at timestamptz NOT NULL
);
CREATE INDEX polybot_billing_invoices_user_idx ON polybot_billing_invoices (user_id, created, id);

CREATE TABLE polybot_billing_events (
	id text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 255),
	kind text NOT NULL,
	processed_at timestamptz NOT NULL
);

ALTER TABLE polybot_billing_prices ENABLE ROW LEVEL SECURITY;
ALTER TABLE polybot_billing_prices FORCE ROW LEVEL SECURITY;
CREATE POLICY service_all ON polybot_billing_prices TO polybot_service USING (true) WITH CHECK (true);

ALTER TABLE polybot_billing_accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE polybot_billing_accounts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_read_own ON polybot_billing_accounts FOR SELECT TO authenticated
	USING (user_id = (SELECT auth.uid()));
CREATE POLICY service_all ON polybot_billing_accounts TO polybot_service USING (true) WITH CHECK (true);

ALTER TABLE polybot_billing_invoices ENABLE ROW LEVEL SECURITY;
ALTER TABLE polybot_billing_invoices FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_read_own ON polybot_billing_invoices FOR SELECT TO authenticated
	USING (user_id = (SELECT auth.uid()));
CREATE POLICY service_all ON polybot_billing_invoices TO polybot_service USING (true) WITH CHECK (true);

ALTER TABLE polybot_billing_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE polybot_billing_events FORCE ROW LEVEL SECURITY;
CREATE POLICY service_all ON polybot_billing_events TO polybot_service USING (true) WITH CHECK (true);

REVOKE ALL ON polybot_billing_prices, polybot_billing_accounts, polybot_billing_invoices, polybot_billing_events FROM PUBLIC;

GRANT SELECT ON polybot_billing_accounts, polybot_billing_invoices TO authenticated;

GRANT SELECT, INSERT, UPDATE, DELETE ON polybot_billing_prices TO polybot_service;
GRANT SELECT, INSERT, UPDATE ON polybot_billing_accounts, polybot_billing_invoices TO polybot_service;
GRANT SELECT, INSERT ON polybot_billing_events TO polybot_service;
