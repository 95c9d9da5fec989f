package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/web"
)

// Billing: the plan page's actions (preview, change, portal), the admin's
// price map and the payment provider's webhook. The rules live in the root
// package (billing.go); the provider is Config.Billing (internal/stripe),
// nil when billing is off.

// BillingOffMessage is what the billing routes and pages say without a
// payment provider.
const BillingOffMessage = "Billing is off: this server has no payment provider (Stripe keys) configured. Plans are set by an administrator."

func errBillingOff() error { return polybot.Errorf(polybot.EUNAVAILABLE, BillingOffMessage) }

// StripeSignatureHeader carries a webhook delivery's signature.
const StripeSignatureHeader = "Stripe-Signature"

func (s *Server) billing() (polybot.BillingProvider, error) {
	if s.cfg.Billing == nil {
		return nil, errBillingOff()
	}
	return s.cfg.Billing, nil
}

// billingTierRequest is POST /api/v1/billing/preview and /change.
type billingTierRequest struct {
	Tier string `json:"tier"`
}

func (in *billingTierRequest) validate() error {
	if in.Tier == "" {
		return polybot.FieldError("tier", "is required")
	}
	return polybot.CheckTierName(in.Tier)
}

// billingPriceRequest is PUT /api/v1/admin/billing/prices/{tier}.
type billingPriceRequest struct {
	PriceID string `json:"price_id"`
}

func (in *billingPriceRequest) validate() error { return nil }

// billingState is GET /api/v1/billing.
type billingState struct {
	Enabled  bool                    `json:"enabled"`
	Message  string                  `json:"message,omitempty"`
	Account  *polybot.BillingAccount `json:"account"`
	Invoices []*polybot.Invoice      `json:"invoices"`
	// Plans are the tiers a user can buy (those with a price).
	Plans []string `json:"plans"`
}

func (s *Server) billingState(ctx context.Context, tenant polybot.ID) (*billingState, error) {
	out := &billingState{Enabled: s.cfg.Billing != nil, Invoices: []*polybot.Invoice{}, Plans: []string{}}
	if !out.Enabled {
		out.Message = BillingOffMessage
	}
	err := s.cfg.Store.TenantView(ctx, tenant, func(tx polybot.TenantTx) error {
		a, err := tx.BillingAccount()
		if err == nil {
			out.Account = a
		} else if polybot.ErrorCode(err) != polybot.ENOTFOUND {
			return err
		}
		out.Invoices, err = tx.Invoices(50)
		return err
	})
	if err != nil {
		return nil, err
	}
	prices, err := s.billingPrices(ctx)
	for t := range prices {
		out.Plans = append(out.Plans, t)
	}
	return out, err
}

// billingPrices maps each tier with a price to it.
func (s *Server) billingPrices(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	err := s.cfg.Store.AdminView(ctx, func(tx polybot.AdminTx) error {
		ps, err := tx.BillingPrices()
		for _, p := range ps {
			out[p.Tier] = p.PriceID
		}
		return err
	})
	return out, err
}

func (s *Server) handleBilling(w http.ResponseWriter, r *http.Request, id *identity) error {
	st, err := s.billingState(r.Context(), id.tenant())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, st)
}

// billingTarget reads the tier a change asks for and its price ("" for free).
func (s *Server) billingTarget(r *http.Request) (*polybot.Tier, string, error) {
	in, err := readRequest[billingTierRequest](r)
	if err != nil {
		return nil, "", err
	}
	var t *polybot.Tier
	err = s.cfg.Store.AdminView(r.Context(), func(tx polybot.AdminTx) (err error) { t, err = tx.Tier(in.Tier); return })
	if polybot.ErrorCode(err) == polybot.ENOTFOUND {
		return nil, "", polybot.FieldError("tier", "no such plan")
	} else if err != nil {
		return nil, "", err
	}
	if t.Name == polybot.TierFree {
		return t, "", nil
	}
	prices, err := s.billingPrices(r.Context())
	if err != nil {
		return nil, "", err
	}
	if prices[t.Name] == "" {
		return nil, "", polybot.FieldError("tier", "the "+t.DisplayName+" plan is not sold online; ask an administrator")
	}
	return t, prices[t.Name], nil
}

// billingRequest reads what a preview or a change needs: the provider,
// the tier asked for with its price ("" for free) and the user's account
// (nil before the first checkout).
func (s *Server) billingRequest(r *http.Request, id *identity) (polybot.BillingProvider, *polybot.Tier, string, *polybot.BillingAccount, error) {
	bp, err := s.billing()
	if err != nil {
		return nil, nil, "", nil, err
	}
	t, price, err := s.billingTarget(r)
	if err != nil {
		return nil, nil, "", nil, err
	}
	st, err := s.billingState(r.Context(), id.tenant())
	if err != nil {
		return nil, nil, "", nil, err
	}
	return bp, t, price, st.Account, nil
}

// live reports whether a subscription is running (not ended).
func live(a *polybot.BillingAccount) bool {
	return a.Subscribed() && a.Status != polybot.SubCanceled && a.Status != polybot.SubIncompleteExpired
}

func (s *Server) handleBillingPreview(w http.ResponseWriter, r *http.Request, id *identity) error {
	bp, t, price, a, err := s.billingRequest(r, id)
	if err != nil {
		return err
	}
	if price == "" {
		if a == nil || !live(a) {
			return polybot.FieldError("tier", "you have no subscription to cancel")
		}
		return writeJSON(w, http.StatusOK, &polybot.BillingPreview{Tier: t.Name, AmountDue: polybot.Zero, PeriodEnd: a.PeriodEnd, When: "period_end"})
	}
	if a == nil {
		a = &polybot.BillingAccount{UserID: id.tenant()}
		if a.CustomerID, err = s.billingCustomer(r, id); err != nil {
			return err
		}
	}
	if !live(a) {
		a = &polybot.BillingAccount{UserID: a.UserID, CustomerID: a.CustomerID}
	}
	pv, err := bp.Preview(r.Context(), a, price)
	if err != nil {
		return err
	}
	pv.Tier = t.Name
	if live(a) && s.isDowngrade(r.Context(), a, t) {
		pv.When, pv.AmountDue, pv.PeriodEnd = "period_end", polybot.Zero, a.PeriodEnd
	}
	return writeJSON(w, http.StatusOK, pv)
}

// isDowngrade reports whether t costs less than the account's current tier.
func (s *Server) isDowngrade(ctx context.Context, a *polybot.BillingAccount, t *polybot.Tier) bool {
	var cur *polybot.Tier
	_ = s.cfg.Store.AdminView(ctx, func(tx polybot.AdminTx) (err error) { cur, err = tx.Tier(a.Tier); return })
	return cur != nil && t.PriceUSDMonthly.LessThan(cur.PriceUSDMonthly)
}

// billingCustomer returns the user's provider customer, creating it once.
func (s *Server) billingCustomer(r *http.Request, id *identity) (string, error) {
	bp, err := s.billing()
	if err != nil {
		return "", err
	}
	var cus string
	err = s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		a, err := tx.BillingAccount()
		if err == nil {
			cus = a.CustomerID
		}
		if polybot.ErrorCode(err) == polybot.ENOTFOUND {
			err = nil
		}
		return err
	})
	if err != nil || cus != "" {
		return cus, err
	}
	// The provider's idempotency key is the user's: a retry or a race
	// gets the same customer back.
	if cus, err = bp.CreateCustomer(r.Context(), id.tenant(), id.user.Email); err != nil {
		return "", err
	}
	err = s.cfg.Store.Admin(r.Context(), func(tx polybot.AdminTx) error {
		if a, err := tx.BillingAccountOf(id.tenant()); err == nil {
			cus = a.CustomerID // created meanwhile
			return nil
		}
		if err := tx.PutBillingAccount(&polybot.BillingAccount{UserID: id.tenant(), CustomerID: cus}); err != nil {
			return err
		}
		d, _ := json.Marshal(map[string]string{"customer": cus})
		u := id.tenant()
		return tx.AppendAudit(&polybot.AuditEntry{UserID: &u, Actor: id.actor(), Action: polybot.AuditBillingConnect,
			Target: "billing", Details: string(d), CreatedAt: tx.Now()})
	})
	return cus, err
}

// baseURL is where the provider sends the browser back to.
func (s *Server) baseURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil || s.cfg.SecureCookies {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// handleBillingChange moves the user to a tier: a Checkout Session for a
// first subscription (the answer carries its URL); an upgrade at once; a
// downgrade, or free (a cancellation), at the period's end. The new state
// arrives by webhook.
func (s *Server) handleBillingChange(w http.ResponseWriter, r *http.Request, id *identity) error {
	bp, t, price, a, err := s.billingRequest(r, id)
	if err != nil {
		return err
	}
	audit := func(what string, extra map[string]string) error {
		extra["tier"], extra["change"] = t.Name, what
		d, _ := json.Marshal(extra)
		return s.cfg.Store.Tenant(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
			return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: polybot.AuditBillingChange, Target: "billing",
				Details: string(d), CreatedAt: tx.Now()})
		})
	}
	switch {
	case price == "":
		if a == nil || !live(a) {
			return polybot.FieldError("tier", "you have no subscription to cancel")
		}
		if err := bp.CancelAtPeriodEnd(r.Context(), a, true); err != nil {
			return err
		}
		return s.billingDone(w, audit, "cancel", "Your subscription ends at the end of the current period; then your plan is Free.")
	case a == nil || !live(a):
		cus, err := s.billingCustomer(r, id)
		if err != nil {
			return err
		}
		base := s.baseURL(r)
		co, err := bp.Checkout(r.Context(), id.tenant(), cus, price, base+"/plan?checkout=success", base+"/plan?checkout=canceled")
		if err != nil {
			return err
		}
		if err := audit("checkout", map[string]string{}); err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, map[string]string{"checkout_url": co.URL})
	case a.PriceID == price:
		if !a.CancelAtPeriodEnd && a.HoldTier == "" {
			return polybot.FieldError("tier", "you are on the "+t.DisplayName+" plan already")
		}
		if err := bp.CancelAtPeriodEnd(r.Context(), a, false); err != nil {
			return err
		}
		return s.billingDone(w, audit, "resume", "Your "+t.DisplayName+" subscription continues.")
	case s.isDowngrade(r.Context(), a, t):
		if err := bp.ChangePrice(r.Context(), a, price, a.Tier); err != nil {
			return err
		}
		return s.billingDone(w, audit, "downgrade", "Your plan moves to "+t.DisplayName+" at the end of the current period.")
	default:
		if err := bp.ChangePrice(r.Context(), a, price, ""); err != nil {
			return err
		}
		return s.billingDone(w, audit, "upgrade", "Your plan moves to "+t.DisplayName+" now; the difference is invoiced at once.")
	}
}

func (s *Server) billingDone(w http.ResponseWriter, audit func(string, map[string]string) error, what, msg string) error {
	if err := audit(what, map[string]string{}); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]string{"message": msg})
}

func (s *Server) handleBillingPortal(w http.ResponseWriter, r *http.Request, id *identity) error {
	bp, err := s.billing()
	if err != nil {
		return err
	}
	cus, err := s.billingCustomer(r, id)
	if err != nil {
		return err
	}
	url, err := bp.Portal(r.Context(), cus, s.baseURL(r)+"/plan")
	if err != nil {
		return err
	}
	err = s.cfg.Store.Tenant(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: polybot.AuditBillingPortal, Target: "billing",
			Details: "{}", CreatedAt: tx.Now()})
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]string{"url": url})
}

// handleBillingWebhook takes the provider's events: the signature is
// verified first (bad or stale: 400, nothing changes); each event id is
// applied once; the user's entitlement is then settled and a running bot
// reloaded. Types billing does not act on are answered 200 and ignored.
func (s *Server) handleBillingWebhook(w http.ResponseWriter, r *http.Request, _ *identity) error {
	bp, err := s.billing()
	if err != nil {
		return err
	}
	if wait := s.hookLim.wait(clientIP(r)); wait > 0 {
		return limited("too many webhook deliveries from this address", wait)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return readBodyError(err)
	}
	ev, err := bp.ParseEvent(body, r.Header.Get(StripeSignatureHeader))
	if err != nil {
		return err
	}
	owner, fresh, err := polybot.ApplyBillingEvent(r.Context(), s.cfg.Store, ev)
	if err != nil {
		return err
	}
	if !owner.IsZero() {
		if _, err := s.settleBilling(r.Context(), owner); err != nil {
			return err
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"received": true, "duplicate": !fresh, "ignored": !ev.Known() || owner.IsZero()})
}

// settleBilling applies the user's entitlement and reloads a running bot
// when it changed.
//
// Settles of one user run one at a time: each starts after its event was
// committed, so the last one to run reads the newest state, however the
// deliveries interleave. (Across API replicas the minute sweep settles
// what a race left behind.)
func (s *Server) settleBilling(ctx context.Context, user polybot.ID) (*polybot.BillingChange, error) {
	mu, _ := s.settleLocks.LoadOrStore(user, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	ch, err := polybot.SettleBilling(ctx, s.cfg.Store, user, s.cfg.BillingGrace)
	if err != nil || ch == nil {
		return ch, err
	}
	s.log.Info("billing: plan settled", "tenant", user, "from", ch.From, "to", ch.To)
	if s.cfg.Bots != nil {
		err := s.timeReload("billing", func() error { return s.cfg.Bots.Reload(ctx, user) })
		if err != nil && polybot.ErrorCode(err) != polybot.ENOTFOUND {
			s.log.Warn("bot reload", "tenant", user, "err", err)
		}
	}
	return ch, nil
}

// SweepBilling settles every subscriber's entitlement: period ends,
// downgrades and grace periods take effect without a webhook. Serve runs
// it every minute; it returns how many users changed.
func (s *Server) SweepBilling(ctx context.Context) (int, error) {
	var ids []polybot.ID
	if err := s.cfg.Store.AdminView(ctx, func(tx polybot.AdminTx) (err error) { ids, err = tx.BilledUserIDs(); return }); err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		ch, err := s.settleBilling(ctx, id)
		if err != nil {
			s.log.Error("billing sweep", "tenant", id, "err", err)
			continue
		}
		if ch != nil {
			n++
		}
	}
	return n, nil
}

// RunBillingSweep calls SweepBilling every interval until ctx ends.
func (s *Server) RunBillingSweep(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.SweepBilling(ctx); err != nil {
				s.log.Error("billing sweep", "err", err)
			}
		}
	}
}

func (s *Server) handleAdminBillingPrices(w http.ResponseWriter, r *http.Request, _ *identity) error {
	var out []*polybot.BillingPrice
	err := s.cfg.Store.AdminView(r.Context(), func(tx polybot.AdminTx) (err error) { out, err = tx.BillingPrices(); return })
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"enabled": s.cfg.Billing != nil, "prices": out})
}

func (s *Server) handleAdminPutBillingPrice(w http.ResponseWriter, r *http.Request, id *identity) error {
	in, err := readRequest[billingPriceRequest](r)
	if err != nil {
		return err
	}
	p := &polybot.BillingPrice{Tier: r.PathValue("tier"), PriceID: strings.TrimSpace(in.PriceID)}
	err = s.cfg.Store.Admin(r.Context(), func(tx polybot.AdminTx) error {
		if err := tx.PutBillingPrice(p); err != nil {
			return err
		}
		d, _ := json.Marshal(p)
		return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: polybot.AuditBillingPrice, Target: "tier:" + p.Tier,
			Details: string(d), CreatedAt: tx.Now()})
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

// billingView is the plan page's billing section.
func (s *Server) billingView(ctx context.Context, tenant polybot.ID) (web.Billing, error) {
	st, err := s.billingState(ctx, tenant)
	if err != nil {
		return web.Billing{}, err
	}
	b := web.Billing{Enabled: st.Enabled, Account: st.Account, Invoices: st.Invoices, Plans: map[string]bool{}}
	for _, t := range st.Plans {
		b.Plans[t] = true
	}
	err = s.cfg.Store.TenantView(ctx, tenant, func(tx polybot.TenantTx) error {
		trail, err := tx.AuditTrail(0, 100)
		for _, e := range trail {
			if n, ok := web.BillingNoticeOf(e); ok && len(b.Notices) < 5 {
				b.Notices = append(b.Notices, n)
			}
		}
		return err
	})
	return b, err
}
