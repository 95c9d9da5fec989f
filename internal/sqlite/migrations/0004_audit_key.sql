-- The audit chain is keyed (issue 9): every entry's hash is an HMAC-SHA256
-- under the platform's audit key, which is stored here only wrapped by the
-- master key (the same envelope as tenant data keys; see internal/secrets).
-- The row exists once the chain is keyed: the application creates the key
-- and re-seals the entries written before, sealed with plain SHA-256, in one
-- transaction (polybot.AdminTx.KeyAuditChain). resealed counts them.
CREATE TABLE polybot_audit_key (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    master_key_id TEXT NOT NULL,
    wrapped       BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    rotated_at    INTEGER NOT NULL,
    resealed      INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TRIGGER polybot_audit_key_no_delete BEFORE DELETE ON polybot_audit_key
BEGIN
    SELECT RAISE(ABORT, 'polybot_audit_key cannot be deleted');
END;

-- Until the chain is keyed, and only then, an entry's prev_hash and hash may
-- be rewritten (the one-time re-seal) and the head's hash with it. Once the
-- key row exists the log is append-only again, as before.
DROP TRIGGER polybot_audit_log_no_update;
CREATE TRIGGER polybot_audit_log_no_update BEFORE UPDATE ON polybot_audit_log
WHEN EXISTS (SELECT 1 FROM polybot_audit_key)
    OR NEW.seq IS NOT OLD.seq OR NEW.user_id IS NOT OLD.user_id OR NEW.actor IS NOT OLD.actor
    OR NEW.action IS NOT OLD.action OR NEW.target IS NOT OLD.target OR NEW.details IS NOT OLD.details
    OR NEW.created_at IS NOT OLD.created_at
BEGIN
    SELECT RAISE(ABORT, 'polybot_audit_log is append-only');
END;

DROP TRIGGER polybot_audit_head_forward;
CREATE TRIGGER polybot_audit_head_forward BEFORE UPDATE ON polybot_audit_head
WHEN NEW.id != OLD.id OR (NEW.seq != OLD.seq + 1
    AND NOT (NEW.seq = OLD.seq AND NOT EXISTS (SELECT 1 FROM polybot_audit_key)))
BEGIN
    SELECT RAISE(ABORT, 'polybot_audit_head only moves forward by one');
END;
