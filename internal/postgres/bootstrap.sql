-- Bootstrap: what the migrations need before they can run. Migrate runs this
-- as the privileged (admin) role, in one transaction, before every migration
-- run. Every statement is idempotent and safe when several Migrate calls run
-- at once, also against different databases of the same cluster (roles are
-- cluster-wide; a concurrent CREATE/GRANT that lost the race is ignored).
--
-- Roles:
--   authenticated    Supabase's role for signed-in users; created only when
--                    missing. Tenant transactions run as it, with the
--                    tenant's claims in request.jwt.claims.
--   polybot_owner    NOLOGIN; owns every PolyBot table and the SECURITY
--                    DEFINER audit functions. Migrations run as it.
--   polybot_service  NOLOGIN; the narrow admin/service path.
--   polybot_tenant_app NOLOGIN; the application's own writes inside a tenant
--                    transaction (quota counters, intents, fills, holdings,
--                    daily P&L, deletes): still bound to the tenant's claims
--                    by RLS, but never granted to authenticated, so a tenant
--                    with raw SQL cannot write what the risk gate trusts.
--   polybot_app      LOGIN, NOSUPERUSER, NOBYPASSRLS, NOINHERIT, owns nothing.
--                    It may switch to authenticated or polybot_service inside
--                    a transaction (set_config('role', ..., true)); by itself
--                    it holds no privilege on any table.

DO $bootstrap$
DECLARE
	r record;
	uid_fn oid;
BEGIN
	-- The Supabase-compatible auth shim, only where it is missing (Supabase
	-- has its own auth schema, auth.uid() and authenticated role).
	IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'auth') THEN
		CREATE SCHEMA auth;
	END IF;
	-- Found through the catalog, which needs no privilege on the schema.
	SELECT p.oid INTO uid_fn FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE n.nspname = 'auth' AND p.proname = 'uid' AND p.pronargs = 0;
	IF uid_fn IS NULL THEN
		CREATE FUNCTION auth.uid() RETURNS uuid
			LANGUAGE sql STABLE
			AS $f$ SELECT (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')::uuid $f$;
		COMMENT ON FUNCTION auth.uid() IS 'The subject of the request''s JWT claims (Supabase semantics).';
		uid_fn := 'auth.uid()'::regprocedure;
	END IF;

	FOR r IN SELECT * FROM (VALUES
		('authenticated', 'NOLOGIN'),
		('polybot_owner', 'NOLOGIN'),
		('polybot_service', 'NOLOGIN'),
		('polybot_tenant_app', 'NOLOGIN'),
		('polybot_app', 'LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION')
	) AS v(name, attrs)
	LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r.name) THEN
			BEGIN
				EXECUTE format('CREATE ROLE %I %s', r.name, r.attrs);
			EXCEPTION WHEN duplicate_object OR unique_violation THEN
				NULL; -- created concurrently by another Migrate
			END;
		END IF;
	END LOOP;

	-- An existing polybot_app is brought back to the attributes above. Only
	-- what differs is altered: changing SUPERUSER or BYPASSRLS needs a
	-- superuser, which a CREATEROLE admin (Supabase) is not.
	IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'polybot_app' AND rolsuper) THEN
		ALTER ROLE polybot_app NOSUPERUSER;
	END IF;
	IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'polybot_app' AND rolbypassrls) THEN
		ALTER ROLE polybot_app NOBYPASSRLS;
	END IF;
	IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'polybot_app' AND (rolinherit OR NOT rolcanlogin OR rolcreaterole OR rolcreatedb)) THEN
		ALTER ROLE polybot_app LOGIN NOINHERIT NOCREATEDB NOCREATEROLE;
	END IF;

	-- Memberships. polybot_app is NOINHERIT: it gains nothing from them until
	-- a transaction switches role.
	FOR r IN SELECT * FROM (VALUES
		('authenticated', 'polybot_app'),
		('polybot_service', 'polybot_app'),
		('polybot_tenant_app', 'polybot_app'),
		('polybot_owner', current_user::text)
	) AS v(grp, member)
	LOOP
		IF NOT pg_has_role(r.member, r.grp, 'MEMBER') THEN
			BEGIN
				EXECUTE format('GRANT %I TO %I', r.grp, r.member);
			EXCEPTION WHEN duplicate_object OR unique_violation THEN
				NULL;
			END;
		END IF;
	END LOOP;

	-- auth.uid() is named by the policies (created as polybot_owner) and
	-- called by them (as authenticated) and by the audit functions (as
	-- polybot_owner). Grant only what is missing: on Supabase the auth schema
	-- belongs to supabase_auth_admin, of which the admin (postgres) is a
	-- member, and authenticated has its privileges already.
	FOR r IN SELECT unnest(ARRAY['authenticated', 'polybot_owner', 'polybot_tenant_app']) AS name
	LOOP
		IF NOT has_schema_privilege(r.name, 'auth', 'USAGE') THEN
			BEGIN
				EXECUTE format('GRANT USAGE ON SCHEMA auth TO %I', r.name);
			EXCEPTION WHEN insufficient_privilege THEN
				NULL; -- reported below
			END;
		END IF;
		IF NOT has_function_privilege(r.name, uid_fn, 'EXECUTE') THEN
			BEGIN
				EXECUTE format('GRANT EXECUTE ON FUNCTION auth.uid() TO %I', r.name);
			EXCEPTION WHEN insufficient_privilege THEN
				NULL;
			END;
		END IF;
		IF NOT has_schema_privilege(r.name, 'auth', 'USAGE') OR NOT has_function_privilege(r.name, uid_fn, 'EXECUTE') THEN
			RAISE EXCEPTION '% needs USAGE on schema auth and EXECUTE on auth.uid(), and % cannot grant them; as the owner of schema auth, run: GRANT USAGE ON SCHEMA auth TO %; GRANT EXECUTE ON FUNCTION auth.uid() TO %;',
				r.name, current_user, r.name, r.name
				USING ERRCODE = 'insufficient_privilege';
		END IF;
	END LOOP;

	-- The owner creates PolyBot's objects in public; the others only use it.
	IF NOT has_schema_privilege('polybot_owner', 'public', 'CREATE') THEN
		GRANT USAGE, CREATE ON SCHEMA public TO polybot_owner;
	END IF;
	FOR r IN SELECT unnest(ARRAY['authenticated', 'polybot_service', 'polybot_tenant_app']) AS name
	LOOP
		IF NOT has_schema_privilege(r.name, 'public', 'USAGE') THEN
			EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', r.name);
		END IF;
	END LOOP;
END
$bootstrap$;

SET LOCAL ROLE polybot_owner;

CREATE TABLE IF NOT EXISTS public.polybot_schema_migrations (
	version integer PRIMARY KEY,
	name text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON public.polybot_schema_migrations FROM PUBLIC;
-- Open reads the schema version on the service path.
GRANT SELECT ON public.polybot_schema_migrations TO polybot_service;

RESET ROLE;
