package postgres

import (
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/polybot/polybot"
)

const auditColumns = `seq, user_id, actor, action, target, details, created_at, prev_hash, hash`

func scanAudit(r pgx.Rows) (*polybot.AuditEntry, error) {
	e := &polybot.AuditEntry{}
	var user pgtype.UUID
	if err := r.Scan(&e.Seq, &user, &e.Actor, &e.Action, &e.Target, &e.Details, &e.CreatedAt, &e.PrevHash, &e.Hash); err != nil {
		return nil, err
	}
	if user.Valid {
		id := polybot.ID(user.Bytes)
		e.UserID = &id
	}
	e.CreatedAt = e.CreatedAt.UTC()
	return e, nil
}

// appendAudit appends e to the one audit chain. Tenants cannot read the
// chain's head (it belongs to everyone), so both steps go through SECURITY
// DEFINER functions: the first locks the head row until the transaction
// ends, so no other appender can read it, and the hash is computed here, by
// AuditEntry.Seal; the second refuses an entry that does not extend the head
// exactly. Concurrent appenders queue on the lock and never fork the chain.
func appendAudit(t *txn, e *polybot.AuditEntry) error {
	if e.CreatedAt.IsZero() {
		e.CreatedAt = t.now
	}
	var seq int64
	var hash string
	if err := t.queryRow(`SELECT head_seq, head_hash FROM polybot_audit_lock_head()`, nil, &seq, &hash); err != nil {
		return mapErr(err, "audit head")
	}
	e.Seal(seq, hash)
	_, err := t.exec(`SELECT polybot_audit_append($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		e.Seq, nullUID(e.UserID), e.Actor, e.Action, e.Target, e.Details, e.CreatedAt, e.PrevHash, e.Hash)
	return mapErr(err, "audit entry")
}
