package notify

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"slices"
	"strings"

	"github.com/polybot/polybot"
)

// Destination management for the API and the settings page. Secrets are
// sealed here, in the tenant's transaction, and a webhook's signing
// secret is shown once, when it is made.

// CreateDestination checks in and stores a new, unverified destination
// with its secrets sealed. For a webhook it returns the signing secret,
// which is shown only now.
func (d *Dispatcher) CreateDestination(ctx context.Context, tenant polybot.ID, in *polybot.NotifyDestinationInput) (*polybot.NotifyDestination, string, error) {
	target, err := in.Validate()
	if err != nil {
		return nil, "", err
	}
	dest := &polybot.NotifyDestination{ID: "dst_" + randomHex(8), Channel: in.Channel, Name: in.Name, Target: target,
		Events: in.Events, Enabled: true, Sealed: map[string]string{}}
	if dest.Events == nil {
		dest.Events = []string{}
	}
	fields := map[string]string{}
	var signing string
	switch in.Channel {
	case polybot.ChannelTelegram:
		fields[polybot.NotifyFieldBotToken] = in.BotToken
	case polybot.ChannelDiscord:
		fields[polybot.NotifyFieldURL] = in.URL
	case polybot.ChannelWebhook:
		signing = newSigningSecret()
		fields[polybot.NotifyFieldURL], fields[polybot.NotifyFieldSigning] = in.URL, signing
	}
	err = d.cfg.Store.Tenant(ctx, tenant, func(tx polybot.TenantTx) error {
		for f, v := range fields {
			s, err := d.box().SealNotify(ctx, tx, dest.ID, f, []byte(v))
			if err != nil {
				return err
			}
			dest.Sealed[f] = s
		}
		return tx.PutNotifyDestination(dest)
	})
	if err != nil {
		return nil, "", err
	}
	return dest, signing, nil
}

// UpdateDestination applies p to the tenant's destination id.
func (d *Dispatcher) UpdateDestination(ctx context.Context, tenant polybot.ID, id string, p *polybot.NotifyDestinationPatch) (*polybot.NotifyDestination, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	var dest *polybot.NotifyDestination
	err := d.cfg.Store.Tenant(ctx, tenant, func(tx polybot.TenantTx) (err error) {
		if dest, err = tx.NotifyDestination(id); err != nil {
			return err
		}
		if p.Name != nil {
			dest.Name = *p.Name
		}
		if p.Enabled != nil {
			dest.Enabled = *p.Enabled
		}
		if p.Events != nil {
			dest.Events = *p.Events
			if dest.Events == nil {
				dest.Events = []string{}
			}
		}
		return tx.PutNotifyDestination(dest)
	})
	return dest, err
}

// SendTest sends a test message to the destination now, outside the
// outbox, and returns the channel's answer. An unverified email or
// Telegram destination gets a new confirmation code in it (and an email a
// confirmation link); an unverified Discord or webhook destination is
// verified by the test arriving (a 2xx answer).
func (d *Dispatcher) SendTest(ctx context.Context, tenant polybot.ID, id string) (*polybot.NotifyDestination, error) {
	var dest *polybot.NotifyDestination
	var to Target
	var code string
	err := d.cfg.Store.Tenant(ctx, tenant, func(tx polybot.TenantTx) (err error) {
		if dest, err = tx.NotifyDestination(id); err != nil {
			return err
		}
		if !dest.Verified() && (dest.Channel == polybot.ChannelEmail || dest.Channel == polybot.ChannelTelegram) {
			code = newCode()
			dest.VerifyHash = hashCode(code)
			if err := tx.PutNotifyDestination(dest); err != nil {
				return err
			}
		}
		to, err = d.open(ctx, tx, dest)
		return err
	})
	if err != nil {
		return nil, err
	}
	defer to.clear()
	sender := d.cfg.Senders[dest.Channel]
	if sender == nil {
		return nil, polybot.Errorf(polybot.EUNAVAILABLE, "the %s channel is not configured on this server", dest.Channel)
	}
	ev := &polybot.NotifyEvent{ID: "test:" + randomHex(8), Type: polybot.NotifyTest, At: d.now(), Title: "Test message from PolyBot",
		Text: "Notifications for " + dest.Name + " reach you here."}
	link := ""
	if code != "" {
		ev.Title = "Confirm your PolyBot notifications"
		ev.Text = "Your confirmation code is " + code + ". Enter it on PolyBot's Notifications page to turn this destination on."
		if dest.Channel == polybot.ChannelEmail && d.cfg.BaseURL != "" {
			link = d.cfg.BaseURL + "/notifications/confirm?" + url.Values{"d": {dest.ID}, "code": {code}}.Encode()
			ev.Text = "Open the link below (or enter the code " + code + " on PolyBot's Notifications page) to turn this destination on."
		}
	}
	msg, err := Render(NotifyKeyFor(ev.ID, dest.ID), ev, link, d.settingsURL())
	if err != nil {
		return nil, polybot.Internal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, d.cfg.SendTimeout)
	defer cancel()
	if err := sender.Send(sctx, to, msg); err != nil {
		return nil, polybot.FieldError("destination", "the test message was not delivered: "+err.Error())
	}
	if !dest.Verified() && code == "" {
		err = d.cfg.Store.Tenant(ctx, tenant, func(tx polybot.TenantTx) error { return markVerified(tx, id) })
		if err != nil {
			return nil, err
		}
		now := d.now()
		dest.VerifiedAt = &now
	}
	return dest, nil
}

// NotifyKeyFor is polybot.NotifyKey (a test message's key).
func NotifyKeyFor(eventID, dest string) string { return polybot.NotifyKey(eventID, dest) }

// Verify checks the confirmation code of an email or Telegram destination
// and, if it matches, verifies it (EINVALID naming code otherwise).
func (d *Dispatcher) Verify(ctx context.Context, tenant polybot.ID, id, code string) (*polybot.NotifyDestination, error) {
	var dest *polybot.NotifyDestination
	err := d.cfg.Store.Tenant(ctx, tenant, func(tx polybot.TenantTx) (err error) {
		if dest, err = tx.NotifyDestination(id); err != nil {
			return err
		}
		if dest.Verified() {
			return nil
		}
		want := dest.VerifyHash
		if want == "" || subtle.ConstantTimeCompare([]byte(hashCode(strings.ToUpper(strings.TrimSpace(code)))), []byte(want)) != 1 {
			return polybot.FieldError("code", "does not match the code we sent; send a new test message to get another")
		}
		if err := markVerified(tx, id); err != nil {
			return err
		}
		dest, err = tx.NotifyDestination(id)
		return err
	})
	return dest, err
}

// markVerified verifies destination id and lists its channel in the
// tenant's notification channels.
func markVerified(tx polybot.TenantTx, id string) error {
	dest, err := tx.NotifyDestination(id)
	if err != nil {
		return err
	}
	now := tx.Now()
	dest.VerifiedAt, dest.VerifyHash = &now, ""
	if err := tx.PutNotifyDestination(dest); err != nil {
		return err
	}
	c, err := tx.Config()
	if err != nil {
		return err
	}
	if !slices.Contains(c.NotificationChannels, dest.Channel) {
		c.NotificationChannels = append(c.NotificationChannels, dest.Channel)
		return tx.UpdateConfig(c)
	}
	return nil
}

// RotateSecret gives a webhook destination a new signing secret and
// returns it (shown once); deliveries from now on are signed with it.
func (d *Dispatcher) RotateSecret(ctx context.Context, tenant polybot.ID, id string) (string, error) {
	secret := newSigningSecret()
	err := d.cfg.Store.Tenant(ctx, tenant, func(tx polybot.TenantTx) error {
		dest, err := tx.NotifyDestination(id)
		if err != nil {
			return err
		}
		if dest.Channel != polybot.ChannelWebhook {
			return polybot.FieldError("id", "only a webhook destination has a signing secret")
		}
		s, err := d.box().SealNotify(ctx, tx, dest.ID, polybot.NotifyFieldSigning, []byte(secret))
		if err != nil {
			return err
		}
		dest.Sealed[polybot.NotifyFieldSigning] = s
		return tx.PutNotifyDestination(dest)
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// Redeliver queues a delivery again (its idempotency key unchanged), now,
// with a fresh set of attempts.
func (d *Dispatcher) Redeliver(ctx context.Context, tenant polybot.ID, id int64) (*polybot.NotifyDelivery, error) {
	var del *polybot.NotifyDelivery
	err := d.cfg.Store.Tenant(ctx, tenant, func(tx polybot.TenantTx) (err error) {
		if del, err = tx.NotifyDelivery(id); err != nil {
			return err
		}
		del.State, del.Attempts, del.NextAt, del.LastError, del.DeliveredAt = polybot.DeliveryPending, 0, tx.Now(), "", nil
		return tx.UpdateNotifyDelivery(del)
	})
	if err == nil {
		d.Kick()
	}
	return del, err
}

func (d *Dispatcher) box() boxer {
	if d.cfg.Box == nil {
		return noBox{}
	}
	return d.cfg.Box
}

type boxer interface {
	SealNotify(ctx context.Context, tx polybot.TenantTx, destID, field string, secret []byte) (string, error)
}

type noBox struct{}

func (noBox) SealNotify(context.Context, polybot.TenantTx, string, string, []byte) (string, error) {
	return "", polybot.Errorf(polybot.EUNAVAILABLE, "secrets are not configured on this server")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newCode is an 8-character confirmation code (40 bits).
func newCode() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return base32.StdEncoding.EncodeToString(b)
}

func hashCode(code string) string {
	h := sha256.Sum256([]byte("polybot/notify-code/" + code))
	return hex.EncodeToString(h[:])
}

func newSigningSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "whsec_" + base64.RawURLEncoding.EncodeToString(b)
}
