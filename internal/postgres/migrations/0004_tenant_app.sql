-- What the risk gate trusts is written only by the application.
--
-- Tenant transactions run as authenticated with the tenant's claims. On
-- Supabase that role is also PostgREST's, so a tenant with its own token can
-- run SQL as it. Until now it could reset its monthly quota, raise its daily
-- P&L, insert fills, and LOCK the token, session and secret tables (any
-- table-level UPDATE or DELETE grant allows every lock mode). From here on:
--
--   authenticated       reads its rows; writes only its own settings
--                       (profile display fields, halt state, bot switch,
--                       config, secrets' columns, sessions and tokens it
--                       creates). No table-level UPDATE or DELETE anywhere.
--   polybot_tenant_app  the application's own writes inside the tenant's
--                       transaction (the store switches to it for one
--                       statement): quota counters, intents, fills,
--                       holdings, daily P&L, and deletes of sessions, tokens
--                       and secrets. Its policies bind every row to the same
--                       claims (auth.uid()), so it is no wider than the
--                       tenant; authenticated is not a member and cannot
--                       switch to it.

-- Quota counters.
REVOKE UPDATE (trades_this_month, quota_month) ON polybot_user_profiles FROM authenticated;
GRANT SELECT ON polybot_user_profiles TO polybot_tenant_app;
GRANT UPDATE (trades_this_month, quota_month, updated_at) ON polybot_user_profiles TO polybot_tenant_app;
CREATE POLICY tenant_app_own ON polybot_user_profiles TO polybot_tenant_app
	USING (id = (SELECT auth.uid())) WITH CHECK (id = (SELECT auth.uid()));

-- Trading history and state.
REVOKE INSERT, UPDATE ON polybot_order_intents FROM authenticated;
REVOKE UPDATE (state, venue_order_id, filled, fees, error, updated_at) ON polybot_order_intents FROM authenticated;
REVOKE INSERT ON polybot_fills FROM authenticated;
REVOKE INSERT ON polybot_holdings FROM authenticated;
REVOKE UPDATE (size, avg_price, realized_pnl, updated_at) ON polybot_holdings FROM authenticated;
REVOKE INSERT ON polybot_daily_pnl FROM authenticated;
REVOKE UPDATE (realized, fees, updated_at, cash_flow, open_value, opened) ON polybot_daily_pnl FROM authenticated;

GRANT SELECT, INSERT ON polybot_order_intents TO polybot_tenant_app;
GRANT UPDATE (state, venue_order_id, filled, fees, error, updated_at) ON polybot_order_intents TO polybot_tenant_app;
GRANT SELECT, INSERT ON polybot_fills TO polybot_tenant_app;
GRANT SELECT, INSERT ON polybot_holdings TO polybot_tenant_app;
GRANT UPDATE (size, avg_price, realized_pnl, updated_at) ON polybot_holdings TO polybot_tenant_app;
GRANT SELECT, INSERT ON polybot_daily_pnl TO polybot_tenant_app;
GRANT UPDATE (realized, fees, cash_flow, open_value, opened, updated_at) ON polybot_daily_pnl TO polybot_tenant_app;

CREATE POLICY tenant_app_own ON polybot_order_intents TO polybot_tenant_app
	USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));
CREATE POLICY tenant_app_own ON polybot_fills TO polybot_tenant_app
	USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));
CREATE POLICY tenant_app_own ON polybot_holdings TO polybot_tenant_app
	USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));
CREATE POLICY tenant_app_own ON polybot_daily_pnl TO polybot_tenant_app
	USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));

-- No table-level UPDATE or DELETE for authenticated: those grants allow
-- LOCK TABLE in ACCESS EXCLUSIVE mode, which would stall every tenant.
REVOKE UPDATE, DELETE ON polybot_user_secrets FROM authenticated;
GRANT UPDATE (is_active, api_key_encrypted, api_secret_encrypted, private_key_encrypted, passphrase_encrypted,
	additional_config, fingerprint, validation_status, last_validated_at, updated_at)
	ON polybot_user_secrets TO authenticated;
REVOKE DELETE ON polybot_sessions FROM authenticated;
REVOKE DELETE ON polybot_api_tokens FROM authenticated;

GRANT SELECT, DELETE ON polybot_user_secrets, polybot_sessions, polybot_api_tokens TO polybot_tenant_app;
CREATE POLICY tenant_app_own ON polybot_user_secrets TO polybot_tenant_app
	USING (user_id = (SELECT auth.uid()));
CREATE POLICY tenant_app_own ON polybot_sessions TO polybot_tenant_app
	USING (user_id = (SELECT auth.uid()));
CREATE POLICY tenant_app_own ON polybot_api_tokens TO polybot_tenant_app
	USING (user_id = (SELECT auth.uid()));

-- The audit chain is appended only by the application: a tenant's own SQL
-- session can no longer call the append function (it could forge entries
-- about itself, such as an admin.set_tier).
REVOKE EXECUTE ON FUNCTION polybot_audit_lock_head() FROM authenticated;
REVOKE EXECUTE ON FUNCTION polybot_audit_append(bigint, uuid, text, text, text, text, timestamptz, text, text) FROM authenticated;
GRANT EXECUTE ON FUNCTION polybot_audit_lock_head() TO polybot_tenant_app;
GRANT EXECUTE ON FUNCTION polybot_audit_append(bigint, uuid, text, text, text, text, timestamptz, text, text) TO polybot_tenant_app;
