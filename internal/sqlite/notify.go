package sqlite

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/polybot/polybot"
)

// Notifications (migration 0009): a tenant's destinations, with their
// sealed secrets, and the outbox of deliveries. The rules are the root
// package's (NotifyDestination.Validate, NotifyDelivery.Validate, Notify);
// this file only stores them. Every tenant statement names the tenant.

const notifyDestCols = `id, channel, name, target, events, enabled, verify_hash, verified_at, sealed, created_at, updated_at`

func scanNotifyDest(s scanner) (*polybot.NotifyDestination, error) {
	var d polybot.NotifyDestination
	var events, sealed string
	err := s.Scan(&d.ID, &d.Channel, &d.Name, &d.Target, &events, &d.Enabled, &d.VerifyHash, nullTimeCol{&d.VerifiedAt},
		&sealed, timeCol{&d.CreatedAt}, timeCol{&d.UpdatedAt})
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(events), &d.Events); err != nil {
		return nil, fmt.Errorf("destination events: %w", err)
	}
	if err := json.Unmarshal([]byte(sealed), &d.Sealed); err != nil {
		return nil, fmt.Errorf("destination secrets: %w", err)
	}
	return &d, nil
}

func (t *tenantTx) NotifyDestinations() ([]*polybot.NotifyDestination, error) {
	out, err := collect(t.tx, "destination", scanNotifyDest,
		`SELECT `+notifyDestCols+` FROM polybot_notify_destinations WHERE user_id = ? ORDER BY id`, t.tenant)
	for _, d := range out {
		d.UserID = t.tenant
	}
	return out, err
}

func (t *tenantTx) NotifyDestination(id string) (*polybot.NotifyDestination, error) {
	if err := polybot.CheckText("id", id, 64); err != nil {
		return nil, err
	}
	d, err := one(t.tx, "destination", scanNotifyDest,
		`SELECT `+notifyDestCols+` FROM polybot_notify_destinations WHERE user_id = ? AND id = ?`, t.tenant, id)
	if err != nil {
		return nil, err
	}
	d.UserID = t.tenant
	return d, nil
}

func (t *tenantTx) PutNotifyDestination(d *polybot.NotifyDestination) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := d.Validate(); err != nil {
		return err
	}
	events, err := jsonList(d.Events)
	if err != nil {
		return polybot.Internal(err)
	}
	sealed, err := json.Marshal(nonNilMap(d.Sealed))
	if err != nil {
		return polybot.Internal(err)
	}
	var n int
	var exists bool
	if err := t.queryRow(`SELECT count(*), ifnull(max(id = ?), 0) FROM polybot_notify_destinations WHERE user_id = ?`,
		d.ID, t.tenant).Scan(&n, &exists); err != nil {
		return dbError(err, "destination")
	}
	if !exists && n >= polybot.MaxNotifyDestinations {
		return polybot.FieldError("id", fmt.Sprintf("at most %d destinations", polybot.MaxNotifyDestinations))
	}
	d.VerifiedAt = normPtr(d.VerifiedAt)
	err = t.queryRow(`INSERT INTO polybot_notify_destinations (user_id, `+notifyDestCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id, id) DO UPDATE SET channel = excluded.channel, name = excluded.name,
			target = excluded.target, events = excluded.events, enabled = excluded.enabled,
			verify_hash = excluded.verify_hash, verified_at = excluded.verified_at, sealed = excluded.sealed,
			updated_at = excluded.updated_at
		RETURNING created_at`,
		t.tenant, d.ID, d.Channel, d.Name, d.Target, events, d.Enabled, d.VerifyHash, nullMicros(d.VerifiedAt),
		string(sealed), micros(t.now), micros(t.now)).Scan(timeCol{&d.CreatedAt})
	if err != nil {
		return dbError(err, "destination")
	}
	d.UserID, d.UpdatedAt = t.tenant, t.now
	return nil
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func (t *tenantTx) DeleteNotifyDestination(id string) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := polybot.CheckText("id", id, 64); err != nil {
		return err
	}
	return t.deleteOne("destination", `DELETE FROM polybot_notify_destinations WHERE user_id = ? AND id = ?`, t.tenant, id)
}

const notifyDeliveryCols = `id, destination_id, channel, idem_key, event_id, event, payload, state, attempts, next_at,
	last_error, created_at, updated_at, delivered_at`

func scanNotifyDelivery(s scanner) (*polybot.NotifyDelivery, error) {
	var d polybot.NotifyDelivery
	var payload string
	err := s.Scan(&d.ID, &d.DestinationID, &d.Channel, &d.Key, &d.EventID, &d.Event, &payload, &d.State, &d.Attempts,
		timeCol{&d.NextAt}, &d.LastError, timeCol{&d.CreatedAt}, timeCol{&d.UpdatedAt}, nullTimeCol{&d.DeliveredAt})
	if err != nil {
		return nil, err
	}
	d.Payload = json.RawMessage(payload)
	return &d, nil
}

func (t *tenantTx) InsertNotifyDelivery(d *polybot.NotifyDelivery) (bool, error) {
	if err := t.writable(); err != nil {
		return false, err
	}
	if err := d.Validate(); err != nil {
		return false, err
	}
	d.NextAt = norm(d.NextAt)
	err := t.queryRow(`INSERT INTO polybot_notify_deliveries (user_id, destination_id, channel, idem_key, event_id, event,
			payload, state, attempts, next_at, last_error, created_at, updated_at, delivered_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id, idem_key) DO NOTHING RETURNING id`,
		t.tenant, d.DestinationID, d.Channel, d.Key, d.EventID, d.Event, string(d.Payload), d.State, d.Attempts,
		micros(d.NextAt), d.LastError, micros(t.now), micros(t.now), nullMicros(d.DeliveredAt)).Scan(&d.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil // a delivery with this key exists
	}
	if err != nil {
		return false, dbError(err, "destination")
	}
	d.UserID, d.CreatedAt, d.UpdatedAt = t.tenant, t.now, t.now
	return true, nil
}

func (t *tenantTx) NotifyDeliveries(f polybot.NotifyDeliveryFilter) ([]*polybot.NotifyDelivery, error) {
	q := `SELECT ` + notifyDeliveryCols + ` FROM polybot_notify_deliveries WHERE user_id = ?`
	args := []any{t.tenant}
	if f.DestinationID != "" {
		q += ` AND destination_id = ?`
		args = append(args, f.DestinationID)
	}
	if f.State != "" {
		q += ` AND state = ?`
		args = append(args, f.State)
	}
	if f.Before > 0 {
		q += ` AND id < ?`
		args = append(args, f.Before)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	out, err := collect(t.tx, "delivery", scanNotifyDelivery, q+` ORDER BY id DESC LIMIT ?`, append(args, min(limit, 1000))...)
	for _, d := range out {
		d.UserID = t.tenant
	}
	return out, err
}

func (t *tenantTx) NotifyDelivery(id int64) (*polybot.NotifyDelivery, error) {
	d, err := one(t.tx, "delivery", scanNotifyDelivery,
		`SELECT `+notifyDeliveryCols+` FROM polybot_notify_deliveries WHERE user_id = ? AND id = ?`, t.tenant, id)
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

func (t *tenantTx) SwapNotifyDelivery(was, d *polybot.NotifyDelivery) (bool, error) {
	if was.ID != d.ID {
		return false, polybot.Internal(errors.New("sqlite: SwapNotifyDelivery of two deliveries"))
	}
	return t.updateNotifyDelivery(d, ` AND state = ? AND attempts = ? AND next_at = ?`, polybot.DeliveryPending, was.Attempts, micros(norm(was.NextAt)))
}

// updateNotifyDelivery stores d where the stored row also meets cond (""
// or " AND …" over args) and reports whether it did.
func (t *tenantTx) updateNotifyDelivery(d *polybot.NotifyDelivery, cond string, args ...any) (bool, error) {
	if err := t.writable(); err != nil {
		return false, err
	}
	if err := d.Validate(); err != nil {
		return false, err
	}
	d.NextAt, d.DeliveredAt = norm(d.NextAt), normPtr(d.DeliveredAt)
	ok, err := t.affected(`UPDATE polybot_notify_deliveries SET state = ?, attempts = ?, next_at = ?, last_error = ?,
		delivered_at = ?, updated_at = ? WHERE user_id = ? AND id = ?`+cond,
		append([]any{d.State, d.Attempts, micros(d.NextAt), d.LastError, nullMicros(d.DeliveredAt), micros(t.now), t.tenant, d.ID}, args...)...)
	if err != nil {
		return false, dbError(err, "delivery")
	}
	if ok {
		d.UserID, d.UpdatedAt = t.tenant, t.now
	}
	return ok, nil
}

func (a *adminTx) DueNotifyDeliveries(limit int) ([]polybot.NotifyDue, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := a.query(`SELECT user_id, id FROM polybot_notify_deliveries WHERE state = 'pending' AND next_at <= ?
		ORDER BY next_at, id LIMIT ?`, micros(a.now), limit)
	if err != nil {
		return nil, dbError(err, "delivery")
	}
	defer rows.Close()
	out := []polybot.NotifyDue{}
	for rows.Next() {
		var d polybot.NotifyDue
		if err := rows.Scan(&d.UserID, &d.ID); err != nil {
			return nil, dbError(err, "delivery")
		}
		out = append(out, d)
	}
	return out, dbError(rows.Err(), "delivery")
}
