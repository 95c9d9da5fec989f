-- The audit chain is keyed (issue 9): every entry's hash is an HMAC-SHA256
-- under the platform's audit key, which the database holds only wrapped by
-- the master key (the envelope of tenant data keys; see internal/secrets).
-- The row exists once the chain is keyed: the application creates the key
-- and re-seals the entries written before (sealed with plain SHA-256) in one
-- transaction on the service path (polybot.AdminTx.KeyAuditChain); resealed
-- counts them. Rotation rewraps it in place; it is never deleted.
CREATE TABLE polybot_audit_key (
	id integer PRIMARY KEY CHECK (id = 1),
	master_key_id text NOT NULL,
	wrapped bytea NOT NULL,
	created_at timestamptz NOT NULL,
	rotated_at timestamptz NOT NULL,
	resealed bigint NOT NULL DEFAULT 0
);
ALTER TABLE polybot_audit_key ENABLE ROW LEVEL SECURITY;
ALTER TABLE polybot_audit_key FORCE ROW LEVEL SECURITY;
CREATE POLICY service_all ON polybot_audit_key TO polybot_service USING (true) WITH CHECK (true);
CREATE POLICY owner_read ON polybot_audit_key FOR SELECT TO polybot_owner USING (true);
REVOKE ALL ON polybot_audit_key FROM PUBLIC;
GRANT SELECT, INSERT ON polybot_audit_key TO polybot_service;
GRANT UPDATE (master_key_id, wrapped, rotated_at) ON polybot_audit_key TO polybot_service;

-- The key is never deleted: without it the chain cannot be verified.
CREATE FUNCTION polybot_audit_key_keep() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	RAISE EXCEPTION 'polybot_audit_key cannot be deleted' USING ERRCODE = 'insufficient_privilege';
END
$$;
REVOKE ALL ON FUNCTION polybot_audit_key_keep() FROM PUBLIC;
CREATE TRIGGER polybot_audit_key_no_delete BEFORE DELETE ON polybot_audit_key
	FOR EACH ROW EXECUTE FUNCTION polybot_audit_key_keep();
CREATE TRIGGER polybot_audit_key_no_truncate BEFORE TRUNCATE ON polybot_audit_key
	FOR EACH STATEMENT EXECUTE FUNCTION polybot_audit_key_keep();

-- The log stays append-only for everyone, the owner included, except for
-- the one-time re-seal: while no audit key is stored, an UPDATE that changes
-- only prev_hash and hash, made by polybot_audit_reseal (which sets
-- polybot.audit_reseal for its own statements), is let through.
CREATE OR REPLACE FUNCTION polybot_audit_log_immutable() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF TG_OP = 'UPDATE'
		AND current_setting('polybot.audit_reseal', true) = 'on'
		AND NOT EXISTS (SELECT 1 FROM public.polybot_audit_key)
		AND NEW.seq = OLD.seq AND NEW.user_id IS NOT DISTINCT FROM OLD.user_id
		AND NEW.actor = OLD.actor AND NEW.action = OLD.action AND NEW.target = OLD.target
		AND NEW.details = OLD.details AND NEW.created_at = OLD.created_at THEN
		RETURN NEW;
	END IF;
	RAISE EXCEPTION 'polybot_audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;
REVOKE ALL ON FUNCTION polybot_audit_log_immutable() FROM PUBLIC;

CREATE POLICY owner_reseal_read ON polybot_audit_log FOR SELECT TO polybot_owner USING (true);
CREATE POLICY owner_reseal ON polybot_audit_log FOR UPDATE TO polybot_owner USING (true) WITH CHECK (true);

-- polybot_audit_reseal rewrites prev_hash and hash of the given entries and
-- moves the head's hash to the last one's when it is the head. It refuses
-- once the chain is keyed. The caller holds the head's lock
-- (polybot_audit_lock_head) and has checked the old chain.
CREATE FUNCTION polybot_audit_reseal(p_seq bigint[], p_prev_hash text[], p_hash text[]) RETURNS void
	LANGUAGE plpgsql
	SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	i integer;
	v_head bigint;
BEGIN
	IF EXISTS (SELECT 1 FROM public.polybot_audit_key) THEN
		RAISE EXCEPTION 'the audit chain is already keyed' USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF cardinality(p_seq) IS DISTINCT FROM cardinality(p_prev_hash) OR cardinality(p_seq) IS DISTINCT FROM cardinality(p_hash) THEN
		RAISE EXCEPTION 'polybot_audit_reseal: arrays of different lengths' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM set_config('polybot.audit_reseal', 'on', true);
	FOR i IN 1 .. coalesce(cardinality(p_seq), 0) LOOP
		IF p_hash[i] IS NULL OR length(p_hash[i]) <> 64 THEN
			RAISE EXCEPTION 'audit entry % has no hash', p_seq[i] USING ERRCODE = 'check_violation';
		END IF;
		UPDATE public.polybot_audit_log SET prev_hash = p_prev_hash[i], hash = p_hash[i] WHERE seq = p_seq[i];
	END LOOP;
	PERFORM set_config('polybot.audit_reseal', 'off', true);
	SELECT h.seq INTO v_head FROM public.polybot_audit_head h WHERE h.id = 1;
	IF cardinality(p_seq) > 0 AND p_seq[cardinality(p_seq)] = v_head THEN
		UPDATE public.polybot_audit_head SET hash = p_hash[cardinality(p_hash)] WHERE id = 1;
	END IF;
END
$$;
REVOKE ALL ON FUNCTION polybot_audit_reseal(bigint[], text[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION polybot_audit_reseal(bigint[], text[], text[]) TO polybot_service;
