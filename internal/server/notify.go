package server

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/web"
)

// Notifications: destinations (email, Telegram, Discord, signed webhooks)
// with their verification and signing secrets, the delivery log, and the
// Notifications page. Sealing, sending and verifying are the Notifier's
// (cmd wires internal/notify); the store holds the rest.

// Notifier manages notification destinations and deliveries
// (internal/notify's Dispatcher).
type Notifier interface {
	CreateDestination(ctx context.Context, tenant polybot.ID, in *polybot.NotifyDestinationInput) (*polybot.NotifyDestination, string, error)
	UpdateDestination(ctx context.Context, tenant polybot.ID, id string, p *polybot.NotifyDestinationPatch) (*polybot.NotifyDestination, error)
	SendTest(ctx context.Context, tenant polybot.ID, id string) (*polybot.NotifyDestination, error)
	Verify(ctx context.Context, tenant polybot.ID, id, code string) (*polybot.NotifyDestination, error)
	RotateSecret(ctx context.Context, tenant polybot.ID, id string) (string, error)
	Redeliver(ctx context.Context, tenant polybot.ID, id int64) (*polybot.NotifyDelivery, error)
	SummaryNow(ctx context.Context, tenant polybot.ID) (int, error)
}

func (s *Server) notifier() (Notifier, error) {
	if s.cfg.Notify == nil {
		return nil, polybot.Errorf(polybot.EUNAVAILABLE, "notifications are not configured on this server")
	}
	return s.cfg.Notify, nil
}

// notifyDestinationRequest is POST /api/v1/notifications/destinations.
type notifyDestinationRequest struct{ polybot.NotifyDestinationInput }

func (in *notifyDestinationRequest) validate() error { _, err := in.Validate(); return err }

// notifyPatchRequest is PATCH /api/v1/notifications/destinations/{id}.
type notifyPatchRequest struct{ polybot.NotifyDestinationPatch }

func (in *notifyPatchRequest) validate() error { return in.Validate() }

// notifyVerifyRequest is POST /api/v1/notifications/destinations/{id}/verify.
type notifyVerifyRequest struct {
	Code string `json:"code"`
}

func (in *notifyVerifyRequest) validate() error {
	if in.Code == "" || len(in.Code) > 64 || polybot.TextError(in.Code, 64) != "" {
		return polybot.FieldError("code", "must be the code from the test message")
	}
	return nil
}

func (s *Server) auditNotify(ctx context.Context, id *identity, action, target string) error {
	return s.cfg.Store.Tenant(ctx, id.tenant(), func(tx polybot.TenantTx) error {
		return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: action, Target: "notify_destination:" + target,
			Details: "{}", CreatedAt: tx.Now()})
	})
}

func (s *Server) handleNotifyDestinations(w http.ResponseWriter, r *http.Request, id *identity) error {
	var ds []*polybot.NotifyDestination
	err := s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) (err error) {
		ds, err = tx.NotifyDestinations()
		return err
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"destinations": ds})
}

// handleCreateNotifyDestination stores a destination, unverified: nothing
// is sent to it until a test message confirms it. A webhook's signing
// secret is in this answer only.
func (s *Server) handleCreateNotifyDestination(w http.ResponseWriter, r *http.Request, id *identity) error {
	in, err := readRequest[notifyDestinationRequest](r)
	if err != nil {
		return err
	}
	n, err := s.notifier()
	if err != nil {
		return err
	}
	d, secret, err := n.CreateDestination(r.Context(), id.tenant(), &in.NotifyDestinationInput)
	if err != nil {
		return err
	}
	if err := s.auditNotify(r.Context(), id, "notify.destination_create", d.ID); err != nil {
		return err
	}
	out := map[string]any{"destination": d}
	if secret != "" {
		out["signing_secret"] = secret
	}
	return writeJSON(w, http.StatusCreated, out)
}

func (s *Server) handleUpdateNotifyDestination(w http.ResponseWriter, r *http.Request, id *identity) error {
	in, err := readRequest[notifyPatchRequest](r)
	if err != nil {
		return err
	}
	n, err := s.notifier()
	if err != nil {
		return err
	}
	d, err := n.UpdateDestination(r.Context(), id.tenant(), r.PathValue("id"), &in.NotifyDestinationPatch)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"destination": d})
}

func (s *Server) handleDeleteNotifyDestination(w http.ResponseWriter, r *http.Request, id *identity) error {
	did := r.PathValue("id")
	err := s.cfg.Store.Tenant(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		if err := tx.DeleteNotifyDestination(did); err != nil {
			return err
		}
		return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: "notify.destination_delete", Target: "notify_destination:" + did,
			Details: "{}", CreatedAt: tx.Now()})
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleTestNotifyDestination sends a test message now; an email or
// Telegram destination that is not verified gets its confirmation code.
func (s *Server) handleTestNotifyDestination(w http.ResponseWriter, r *http.Request, id *identity) error {
	n, err := s.notifier()
	if err != nil {
		return err
	}
	d, err := n.SendTest(r.Context(), id.tenant(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"destination": d, "sent": true})
}

func (s *Server) handleVerifyNotifyDestination(w http.ResponseWriter, r *http.Request, id *identity) error {
	in, err := readRequest[notifyVerifyRequest](r)
	if err != nil {
		return err
	}
	n, err := s.notifier()
	if err != nil {
		return err
	}
	d, err := n.Verify(r.Context(), id.tenant(), r.PathValue("id"), in.Code)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"destination": d})
}

func (s *Server) handleRotateNotifySecret(w http.ResponseWriter, r *http.Request, id *identity) error {
	n, err := s.notifier()
	if err != nil {
		return err
	}
	did := r.PathValue("id")
	secret, err := n.RotateSecret(r.Context(), id.tenant(), did)
	if err != nil {
		return err
	}
	if err := s.auditNotify(r.Context(), id, "notify.secret_rotate", did); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"signing_secret": secret})
}

// deliveryFilter reads GET /api/v1/notifications/deliveries's query.
func deliveryFilter(q url.Values) (polybot.NotifyDeliveryFilter, error) {
	f := polybot.NotifyDeliveryFilter{DestinationID: q.Get("destination"), State: q.Get("state")}
	v := polybot.Validation{}
	for name, dst := range map[string]any{"before": &f.Before, "limit": &f.Limit} {
		raw := q.Get(name)
		if raw == "" {
			continue
		}
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			v.Add(name, "must be a whole number")
			continue
		}
		switch p := dst.(type) {
		case *int64:
			*p = n
		case *int:
			*p = int(max(min(n, 1<<31), -1))
		}
	}
	if err := v.Err(); err != nil {
		return f, err
	}
	return f, f.Validate()
}

func (s *Server) handleNotifyDeliveries(w http.ResponseWriter, r *http.Request, id *identity) error {
	f, err := deliveryFilter(r.URL.Query())
	if err != nil {
		return err
	}
	var ds []*polybot.NotifyDelivery
	err = s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) (err error) {
		ds, err = tx.NotifyDeliveries(f)
		return err
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"deliveries": ds})
}

func (s *Server) handleRedeliver(w http.ResponseWriter, r *http.Request, id *identity) error {
	did, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || did <= 0 {
		return polybot.FieldError("id", "must be a delivery id")
	}
	n, err := s.notifier()
	if err != nil {
		return err
	}
	d, err := n.Redeliver(r.Context(), id.tenant(), did)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"delivery": d})
}

func (s *Server) handleSummaryNow(w http.ResponseWriter, r *http.Request, id *identity) error {
	n, err := s.notifier()
	if err != nil {
		return err
	}
	queued, err := n.SummaryNow(r.Context(), id.tenant())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, map[string]any{"queued": queued})
}

// pageNotifications is the Notifications page: events, destinations and
// the delivery log (the page's script writes through the API above).
func (s *Server) pageNotifications(w http.ResponseWriter, r *http.Request, id *identity) error {
	return s.renderNotifications(w, r, id, "")
}

// pageNotifyConfirm is an email's confirmation link: it verifies the
// destination, then shows the page.
func (s *Server) pageNotifyConfirm(w http.ResponseWriter, r *http.Request, id *identity) error {
	q := r.URL.Query()
	msg := "Confirmed: notifications will reach this address."
	if n, err := s.notifier(); err != nil {
		msg = polybot.ErrorMessage(err)
	} else if _, err := n.Verify(r.Context(), id.tenant(), q.Get("d"), q.Get("code")); err != nil {
		msg = "This link did not confirm anything: " + polybot.ErrorMessage(err) + " " + polybot.ErrorFields(err)["code"]
	}
	return s.renderNotifications(w, r, id, msg)
}

func (s *Server) renderNotifications(w http.ResponseWriter, r *http.Request, id *identity, flash string) error {
	var p *polybot.Profile
	var c *polybot.Config
	var ds []*polybot.NotifyDestination
	var log []*polybot.NotifyDelivery
	err := s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) (err error) {
		if p, err = tx.Profile(); err != nil {
			return err
		}
		if c, err = tx.Config(); err != nil {
			return err
		}
		if ds, err = tx.NotifyDestinations(); err != nil {
			return err
		}
		log, err = tx.NotifyDeliveries(polybot.NotifyDeliveryFilter{Limit: 50})
		return err
	})
	if err != nil {
		return err
	}
	return s.render(w, r, id, p, "notifications", "Notifications", web.NewNotifyData(c, ds, log, flash, s.cfg.Notify != nil))
}
