package postgres

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/polybot/polybot"
)

// Notifications (migration 0010): a tenant's destinations, with their
// sealed secrets, and the outbox of deliveries, stored as internal/sqlite
// stores them. A tenant writes through polybot_tenant_app (txn.asApp), so
// RecordFill's transaction writes the trade and its outbox rows together.

const notifyDestColumns = `id, channel, name, target, events, enabled, verify_hash, verified_at, sealed, created_at, updated_at`

const notifyDestSelect = `SELECT id, channel, name, target, events::text, enabled, verify_hash, verified_at, sealed::text,
	created_at, updated_at FROM polybot_notify_destinations`

func scanNotifyDest(row pgx.Rows) (*polybot.NotifyDestination, error) {
	d := &polybot.NotifyDestination{}
	var events, sealed string
	if err := row.Scan(&d.ID, &d.Channel, &d.Name, &d.Target, &events, &d.Enabled, &d.VerifyHash, &d.VerifiedAt, &sealed,
		&d.CreatedAt, &d.UpdatedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(events), &d.Events); err != nil {
		return nil, fmt.Errorf("destination events: %w", err)
	}
	if err := json.Unmarshal([]byte(sealed), &d.Sealed); err != nil {
		return nil, fmt.Errorf("destination secrets: %w", err)
	}
	d.VerifiedAt, d.CreatedAt, d.UpdatedAt = utcPtr(d.VerifiedAt), d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	return d, nil
}

func (t *tenantTx) NotifyDestinations() ([]*polybot.NotifyDestination, error) {
	out, err := collectRows(t.txn, "destination", scanNotifyDest, notifyDestSelect+` WHERE user_id = $1 ORDER BY id`, uid(t.tenant))
	for _, d := range out {
		d.UserID = t.tenant
	}
	return out, err
}

func (t *tenantTx) NotifyDestination(id string) (*polybot.NotifyDestination, error) {
	if err := polybot.CheckText("id", id, 64); err != nil {
		return nil, err
	}
	d, err := oneRow(t.txn, "destination", scanNotifyDest, notifyDestSelect+` WHERE user_id = $1 AND id = $2`, uid(t.tenant), id)
	if err != nil {
		return nil, err
	}
	d.UserID = t.tenant
	return d, nil
}

func (t *tenantTx) PutNotifyDestination(d *polybot.NotifyDestination) error {
	if err := d.Validate(); err != nil {
		return err
	}
	events, err := jsonList(d.Events)
	if err != nil {
		return polybot.Internal(err)
	}
	sealed := d.Sealed
	if sealed == nil {
		sealed = map[string]string{}
	}
	sealedText, err := jsonText(sealed)
	if err != nil {
		return polybot.Internal(err)
	}
	defer t.asApp(true)()
	var n int
	var exists bool
	if err := t.queryRow(`SELECT count(*), coalesce(bool_or(id = $2), false) FROM polybot_notify_destinations WHERE user_id = $1`,
		[]any{uid(t.tenant), d.ID}, &n, &exists); err != nil {
		return mapErr(err, "destination")
	}
	if !exists && n >= polybot.MaxNotifyDestinations {
		return polybot.FieldError("id", fmt.Sprintf("at most %d destinations", polybot.MaxNotifyDestinations))
	}
	d.VerifiedAt = utcPtr(d.VerifiedAt)
	var created time.Time
	err = t.queryRow(`INSERT INTO polybot_notify_destinations (user_id, `+notifyDestColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
		ON CONFLICT (user_id, id) DO UPDATE SET channel = excluded.channel, name = excluded.name,
			target = excluded.target, events = excluded.events, enabled = excluded.enabled,
			verify_hash = excluded.verify_hash, verified_at = excluded.verified_at, sealed = excluded.sealed,
			updated_at = excluded.updated_at
		RETURNING created_at`,
		[]any{uid(t.tenant), d.ID, d.Channel, d.Name, d.Target, events, d.Enabled, d.VerifyHash, d.VerifiedAt, sealedText, t.now},
		&created)
	if err != nil {
		return mapErr(err, "destination")
	}
	d.UserID, d.CreatedAt, d.UpdatedAt = t.tenant, created.UTC(), t.now
	return nil
}

func (t *tenantTx) DeleteNotifyDestination(id string) error {
	if err := polybot.CheckText("id", id, 64); err != nil {
		return err
	}
	defer t.asApp(true)()
	return t.changeOne("destination", `DELETE FROM polybot_notify_destinations WHERE user_id = $1 AND id = $2`, uid(t.tenant), id)
}

const notifyDeliverySelect = `SELECT id, destination_id, channel, idem_key, event_id, event, payload::text, state, attempts,
	next_at, last_error, created_at, updated_at, delivered_at FROM polybot_notify_deliveries`

func scanNotifyDelivery(row pgx.Rows) (*polybot.NotifyDelivery, error) {
	d := &polybot.NotifyDelivery{}
	var payload string
	if err := row.Scan(&d.ID, &d.DestinationID, &d.Channel, &d.Key, &d.EventID, &d.Event, &payload, &d.State, &d.Attempts,
		&d.NextAt, &d.LastError, &d.CreatedAt, &d.UpdatedAt, &d.DeliveredAt); err != nil {
		return nil, err
	}
	d.Payload = json.RawMessage(payload)
	d.NextAt, d.CreatedAt, d.UpdatedAt, d.DeliveredAt = d.NextAt.UTC(), d.CreatedAt.UTC(), d.UpdatedAt.UTC(), utcPtr(d.DeliveredAt)
	return d, nil
}

func (t *tenantTx) InsertNotifyDelivery(d *polybot.NotifyDelivery) (bool, error) {
	if err := d.Validate(); err != nil {
		return false, err
	}
	defer t.asApp(true)()
	d.NextAt = d.NextAt.UTC().Truncate(time.Microsecond)
	err := t.queryRow(`INSERT INTO polybot_notify_deliveries (user_id, destination_id, channel, idem_key, event_id, event,
			payload, state, attempts, next_at, last_error, created_at, updated_at, delivered_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13)
		ON CONFLICT (user_id, idem_key) DO NOTHING RETURNING id`,
		[]any{uid(t.tenant), d.DestinationID, d.Channel, d.Key, d.EventID, d.Event, string(d.Payload), d.State, d.Attempts,
			d.NextAt, d.LastError, t.now, utcPtr(d.DeliveredAt)}, &d.ID)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil // a delivery with this key exists
	}
	if err != nil {
		return false, mapErr(err, "destination")
	}
	d.UserID, d.CreatedAt, d.UpdatedAt = t.tenant, t.now, t.now
	return true, nil
}

func (t *tenantTx) NotifyDeliveries(f polybot.NotifyDeliveryFilter) ([]*polybot.NotifyDelivery, error) {
	q := notifyDeliverySelect + ` WHERE user_id = $1`
	args := []any{uid(t.tenant)}
	if f.DestinationID != "" {
		args = append(args, f.DestinationID)
		q += fmt.Sprintf(` AND destination_id = $%d`, len(args))
	}
	if f.State != "" {
		args = append(args, f.State)
		q += fmt.Sprintf(` AND state = $%d`, len(args))
	}
	if f.Before > 0 {
		args = append(args, f.Before)
		q += fmt.Sprintf(` AND id < $%d`, len(args))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	args = append(args, min(limit, 1000))
	out, err := collectRows(t.txn, "delivery", scanNotifyDelivery, q+fmt.Sprintf(` ORDER BY id DESC LIMIT $%d`, len(args)), args...)
	for _, d := range out {
		d.UserID = t.tenant
	}
	return out, err
}

func (t *tenantTx) NotifyDelivery(id int64) (*polybot.NotifyDelivery, error) {
	d, err := oneRow(t.txn, "delivery", scanNotifyDelivery, notifyDeliverySelect+` WHERE user_id = $1 AND id = $2`, uid(t.tenant), id)
	if err != nil {
		return nil, err
	}
	d.UserID = t.tenant
	return d, nil
}

func (t *tenantTx) UpdateNotifyDelivery(d *polybot.NotifyDelivery) error {
	ok, err := t.updateNotifyDelivery(d, "")
	if err == nil && !ok {
		err = polybot.NotFound("delivery")
	}
	return err
}

// SwapNotifyDelivery is one conditional UPDATE: under READ COMMITTED a
// second transaction's UPDATE of a row the first has written waits for
// the first to commit, then re-checks its WHERE on the row the first left,
// so of two dispatchers that read the same delivery only one claims it.
func (t *tenantTx) SwapNotifyDelivery(was, d *polybot.NotifyDelivery) (bool, error) {
	if was.ID != d.ID {
		return false, polybot.Internal(errors.New("postgres: SwapNotifyDelivery of two deliveries"))
	}
	return t.updateNotifyDelivery(d, ` AND state = $9 AND attempts = $10 AND next_at = $11`,
		polybot.DeliveryPending, was.Attempts, was.NextAt.UTC().Truncate(time.Microsecond))
}

// updateNotifyDelivery stores d where the stored row also meets cond (""
// or " AND …" over args from $9 on) and reports whether it did.
func (t *tenantTx) updateNotifyDelivery(d *polybot.NotifyDelivery, cond string, args ...any) (bool, error) {
	if err := d.Validate(); err != nil {
		return false, err
	}
	defer t.asApp(true)()
	d.NextAt, d.DeliveredAt = d.NextAt.UTC().Truncate(time.Microsecond), utcPtr(d.DeliveredAt)
	n, err := t.exec(`UPDATE polybot_notify_deliveries SET state = $3, attempts = $4, next_at = $5,
		last_error = $6, delivered_at = $7, updated_at = $8 WHERE user_id = $1 AND id = $2`+cond,
		append([]any{uid(t.tenant), d.ID, d.State, d.Attempts, d.NextAt, d.LastError, d.DeliveredAt, t.now}, args...)...)
	if err != nil {
		return false, mapErr(err, "delivery")
	}
	if n > 0 {
		d.UserID, d.UpdatedAt = t.tenant, t.now
	}
	return n > 0, nil
}

func (t *adminTx) DueNotifyDeliveries(limit int) ([]polybot.NotifyDue, error) {
	if limit <= 0 {
		limit = 100
	}
	out := []polybot.NotifyDue{}
	_, err := t.query(`SELECT user_id, id FROM polybot_notify_deliveries WHERE state = 'pending' AND next_at <= $1
		ORDER BY next_at, id LIMIT $2`, []any{t.now, limit}, func(r pgx.Rows) error {
		var d polybot.NotifyDue
		if err := r.Scan((*[16]byte)(&d.UserID), &d.ID); err != nil {
			return err
		}
		out = append(out, d)
		return nil
	})
	if err != nil {
		return nil, mapErr(err, "delivery")
	}
	return out, nil
}
