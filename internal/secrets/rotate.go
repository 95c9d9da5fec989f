package secrets

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/polybot/polybot"
)

// rotateAttempts bounds the compare-and-swap retries of one data key.
const rotateAttempts = 5

// RotateReport counts what Rotate did.
type RotateReport struct {
	KeyID     string `json:"key_id"`    // the master key data keys are now wrapped by
	Total     int    `json:"total"`     // data keys seen
	Rewrapped int    `json:"rewrapped"` // moved to KeyID
	Current   int    `json:"current"`   // already under KeyID
	Failed    int    `json:"failed"`    // left as they were (see the error)
	// AuditKey is what happened to the platform's audit key: "rewrapped",
	// "current" (already under KeyID, or not created yet) or "failed".
	AuditKey string `json:"audit_key"`
}

// Rotate rewraps every tenant's data key, and the platform's audit key, under
// to's active master key,
// unwrapping with from (which may be the same keyring after AddKey). Secrets
// are not re-encrypted: each data key stays the same, only its wrapping
// changes, so every secret stays readable throughout and servers keep running.
// Each key is swapped in its own short transaction with ReplaceDataKey, a
// compare-and-swap retried when a concurrent change wins. It appends one audit
// entry (polybot.AuditKeysRotate) with the counts, even when some keys failed;
// a failure leaves that key under its old master key and makes Rotate return
// an error after trying the rest.
func Rotate(ctx context.Context, store polybot.Store, from, to KeyWrapper, actor string) (RotateReport, error) {
	rep := RotateReport{KeyID: to.ID()}
	var dks []*polybot.DataKey
	err := store.AdminView(ctx, func(tx polybot.AdminTx) error {
		var err error
		dks, err = tx.DataKeys()
		return err
	})
	if err != nil {
		return rep, err
	}
	rep.Total = len(dks)
	var firstErr error
	for _, dk := range dks {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		moved, err := rotateOne(ctx, store, from, to, dk, rep.KeyID)
		switch {
		case err != nil:
			rep.Failed++
			if firstErr == nil {
				firstErr = fmt.Errorf("tenant %s: %w", dk.UserID, err)
			}
		case moved:
			rep.Rewrapped++
		default:
			rep.Current++
		}
	}
	switch moved, err := rotateAuditKey(ctx, store, from, to, rep.KeyID); {
	case err != nil:
		rep.AuditKey = "failed"
		if firstErr == nil {
			firstErr = fmt.Errorf("audit key: %w", err)
		}
	case moved:
		rep.AuditKey = "rewrapped"
	default:
		rep.AuditKey = "current"
	}
	details, _ := json.Marshal(rep)
	err = store.Admin(ctx, func(tx polybot.AdminTx) error {
		return tx.AppendAudit(&polybot.AuditEntry{Actor: actorOr(actor), Action: polybot.AuditKeysRotate,
			Target: "master_key:" + rep.KeyID, Details: string(details), CreatedAt: tx.Now()})
	})
	if firstErr != nil {
		return rep, polybot.Internal(fmt.Errorf("secrets: %d of %d data keys (audit key: %s) were not rewrapped; first: %w", rep.Failed, rep.Total, rep.AuditKey, firstErr))
	}
	return rep, err
}

// rotateOne moves one data key to the target master key. It reports whether it
// changed the key (false: it was already there).
func rotateOne(ctx context.Context, store polybot.Store, from, to KeyWrapper, cur *polybot.DataKey, target string) (bool, error) {
	aad := tenantAAD(cur.UserID)
	for attempt := 0; ; attempt++ {
		if cur.MasterKeyID == target {
			return false, nil
		}
		dek, err := from.Unwrap(ctx, cur.MasterKeyID, cur.Wrapped, aad)
		if err != nil {
			return false, err
		}
		keyID, wrapped, err := to.Wrap(ctx, dek, aad)
		if err == nil {
			err = checkRewrap(ctx, to, keyID, wrapped, aad, dek)
		}
		clear(dek)
		if err != nil {
			return false, err
		}
		next := &polybot.DataKey{UserID: cur.UserID, MasterKeyID: keyID, Wrapped: wrapped, CreatedAt: cur.CreatedAt}
		err = store.Admin(ctx, func(tx polybot.AdminTx) error {
			next.RotatedAt = tx.Now()
			return tx.ReplaceDataKey(next, cur.Wrapped)
		})
		if err == nil {
			return true, nil
		}
		if polybot.ErrorCode(err) != polybot.ECONFLICT || attempt+1 >= rotateAttempts {
			return false, err
		}
		// Someone else changed the key (another rotation): start from theirs.
		err = store.TenantView(ctx, cur.UserID, func(tx polybot.TenantTx) error {
			var err error
			cur, err = tx.DataKey()
			return err
		})
		if err != nil {
			return false, err
		}
	}
}

// checkRewrap proves the new wrapping opens to the same data key before it
// replaces the old one: a broken wrapper must not lose a tenant's secrets.
func checkRewrap(ctx context.Context, to KeyWrapper, keyID string, wrapped, aad, dek []byte) error {
	back, err := to.Unwrap(ctx, keyID, wrapped, aad)
	if err != nil {
		return err
	}
	defer clear(back)
	if subtle.ConstantTimeCompare(back, dek) != 1 {
		return polybot.Internal(errors.New("secrets: the rewrapped data key does not unwrap to the same key"))
	}
	return nil
}
