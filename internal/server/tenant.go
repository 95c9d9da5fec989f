package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/auth"
	"github.com/polybot/polybot/internal/secrets"
)

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// --- API tokens ---

type createTokenResponse struct {
	Token    string            `json:"token"`
	APIToken *polybot.APIToken `json:"api_token"`
}

func (s *Server) handleListTokens(w http.ResponseWriter, r *http.Request, id *identity) error {
	var out []*polybot.APIToken
	err := s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		var err error
		out, err = tx.APITokens()
		return err
	})
	if err != nil {
		return err
	}
	if out == nil {
		out = []*polybot.APIToken{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
}

func (s *Server) handleCreateToken(w http.ResponseWriter, r *http.Request, id *identity) error {
	in, err := readRequest[createTokenRequest](r)
	if err != nil {
		return err
	}
	raw, prefix := auth.NewAPIToken()
	t := &polybot.APIToken{ID: polybot.NewID(), UserID: id.tenant(), Name: in.Name, Hash: auth.HashToken(raw), Prefix: prefix}
	err = s.cfg.Store.Tenant(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		// Count under the tenant's lock, so concurrent creates cannot pass the cap together.
		if err := tx.LockTenant(); err != nil {
			return err
		}
		now := tx.Now()
		list, err := tx.APITokens()
		if err != nil {
			return err
		}
		active := 0
		for _, k := range list {
			if k.ExpiresAt == nil || k.ExpiresAt.After(now) {
				active++
			}
		}
		if active >= s.cfg.MaxAPITokens {
			return &polybot.Error{Code: polybot.EFORBIDDEN,
				Message: fmt.Sprintf("you have %d active API tokens, the most allowed; delete one you no longer use first", active),
				Fields:  map[string]string{"tokens": fmt.Sprintf("at most %d active API tokens", s.cfg.MaxAPITokens)}}
		}
		t.CreatedAt = now
		if in.ExpiresInDays > 0 {
			exp := now.Add(time.Duration(in.ExpiresInDays) * 24 * time.Hour)
			t.ExpiresAt = &exp
		}
		if err := tx.CreateAPIToken(t); err != nil {
			return err
		}
		return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: polybot.AuditTokenCreate, Target: "token:" + t.ID.String(),
			Details: `{"name":` + quote(t.Name) + `,"prefix":` + quote(t.Prefix) + `}`, CreatedAt: now})
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, createTokenResponse{Token: raw, APIToken: t})
}

func (s *Server) handleDeleteToken(w http.ResponseWriter, r *http.Request, id *identity) error {
	tid, err := polybot.ParseID(r.PathValue("id"))
	if err != nil {
		return polybot.NotFound("token")
	}
	err = s.cfg.Store.Tenant(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		if err := tx.DeleteAPIToken(tid); err != nil {
			return err
		}
		return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: polybot.AuditTokenDelete, Target: "token:" + tid.String(), Details: "{}", CreatedAt: tx.Now()})
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// --- profile ---

type usage struct {
	Month     string `json:"month"`
	Used      int    `json:"trades_used"`
	Limit     int    `json:"trades_limit"`
	Remaining int    `json:"trades_remaining"`
}

type profileResponse struct {
	Profile *polybot.Profile `json:"profile"`
	Usage   usage            `json:"usage"`
}

func profileView(p *polybot.Profile, now time.Time) profileResponse {
	used := p.TradesUsed(now)
	p.TradesThisMonth = used
	p.QuotaMonth = polybot.QuotaMonth(now)
	return profileResponse{Profile: p, Usage: usage{Month: p.QuotaMonth, Used: used, Limit: p.MonthlyTradeLimit, Remaining: max(0, p.MonthlyTradeLimit-used)}}
}

func (s *Server) handleGetProfile(w http.ResponseWriter, r *http.Request, id *identity) error {
	var resp profileResponse
	err := s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		p, err := tx.Profile()
		if err != nil {
			return err
		}
		resp = profileView(p, tx.Now())
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, resp)
}

func (s *Server) handlePatchProfile(w http.ResponseWriter, r *http.Request, id *identity) error {
	in, err := readRequest[profilePatch](r)
	if err != nil {
		return err
	}
	var resp profileResponse
	onboarded := false // this request completed onboarding
	err = s.cfg.Store.Tenant(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		p, err := tx.Profile()
		if err != nil {
			return err
		}
		now := tx.Now()
		if in.DisplayName != nil {
			p.DisplayName = strings.TrimSpace(*in.DisplayName)
		}
		if in.AcceptTerms != nil && p.AcceptedTermsAt == nil {
			p.AcceptedTermsAt = &now
			if err := tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: polybot.AuditTermsAccept, Target: "profile", Details: "{}", CreatedAt: now}); err != nil {
				return err
			}
		}
		if in.OnboardingCompleted != nil {
			if *in.OnboardingCompleted && p.AcceptedTermsAt == nil {
				return polybot.FieldError("onboarding_completed", "accept the terms first")
			}
			onboarded = *in.OnboardingCompleted && !p.OnboardingCompleted
			p.OnboardingCompleted = *in.OnboardingCompleted
		}
		if err := tx.UpdateProfile(p); err != nil {
			return err
		}
		resp = profileView(p, now)
		return nil
	})
	if err != nil {
		return err
	}
	if onboarded {
		s.startBot(r, id.tenant())
	}
	return writeJSON(w, http.StatusOK, resp)
}

// --- config ---

func (s *Server) handleGetConfig(w http.ResponseWriter, r *http.Request, id *identity) error {
	var c *polybot.Config
	err := s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		var err error
		c, err = tx.Config()
		return err
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c)
}

func (s *Server) handlePutConfig(w http.ResponseWriter, r *http.Request, id *identity) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var next *polybot.Config
	err = s.cfg.Store.Tenant(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		p, err := tx.Profile()
		if err != nil {
			return err
		}
		cur, err := tx.Config()
		if err != nil {
			return err
		}
		next, err = cur.ApplyPatch(body, p)
		if err != nil {
			return err
		}
		if err := tx.UpdateConfig(next); err != nil {
			return err
		}
		return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: polybot.AuditConfigUpdate, Target: "config",
			Details: configDiff(cur, next), CreatedAt: tx.Now()})
	})
	if err != nil {
		return err
	}
	// The running bot takes the new config before the caller hears back.
	s.reload(r, id.tenant())
	return writeJSON(w, http.StatusOK, next)
}

// configDiff renders {"field":{"before":…,"after":…}} for the changed fields.
func configDiff(before, after *polybot.Config) string {
	var a, b map[string]json.RawMessage
	ab, _ := json.Marshal(before)
	bb, _ := json.Marshal(after)
	_ = json.Unmarshal(ab, &a)
	_ = json.Unmarshal(bb, &b)
	diff := map[string]map[string]json.RawMessage{}
	for k, v := range b {
		if k == "updated_at" || k == "created_at" {
			continue
		}
		if string(a[k]) != string(v) {
			diff[k] = map[string]json.RawMessage{"before": a[k], "after": v}
		}
	}
	out, _ := json.Marshal(diff)
	return string(out)
}

// --- secrets ---

type putSecretRequest struct {
	Platform         string          `json:"platform"`
	Paper            *bool           `json:"is_paper"`
	Active           *bool           `json:"is_active"`
	APIKey           string          `json:"api_key"`
	APISecret        string          `json:"api_secret"`
	PrivateKey       string          `json:"private_key"`
	Passphrase       string          `json:"passphrase"`
	AdditionalConfig json.RawMessage `json:"additional_config"`
}

func (s *Server) handleListSecrets(w http.ResponseWriter, r *http.Request, id *identity) error {
	out := []polybot.SecretMeta{}
	err := s.cfg.Store.TenantView(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		list, err := tx.Secrets()
		for _, sec := range list {
			out = append(out, sec.Meta())
		}
		return err
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"secrets": out})
}

func (s *Server) handlePutSecret(w http.ResponseWriter, r *http.Request, id *identity) error {
	in, err := readRequest[putSecretRequest](r)
	if err != nil {
		return err
	}
	platform := polybot.Platform(in.Platform) // validate parsed it
	paper := true                             // safe default: paper/sandbox keys
	if in.Paper != nil {
		paper = *in.Paper
	}
	active := true
	if in.Active != nil {
		active = *in.Active
	}
	fields := map[string]string{}
	for name, val := range map[string]string{polybot.FieldAPIKey: in.APIKey, polybot.FieldAPISecret: in.APISecret,
		polybot.FieldPrivateKey: in.PrivateKey, polybot.FieldPassphrase: in.Passphrase} {
		if name != polybot.FieldPrivateKey || platform != polybot.Kalshi {
			val = strings.TrimSpace(val) // pasted tokens often carry a stray space or newline
		}
		if val != "" {
			fields[name] = val
		}
	}
	extra, err := additionalConfig(in.AdditionalConfig)
	if err != nil {
		return err
	}
	// A key of the wrong shape is refused before it is stored.
	if err := polybot.CheckCredentialFormat(platform, fieldBytes(fields)); err != nil {
		return err
	}
	meta, status, err := s.storeSecret(r, id, platform, paper, active, fields, extra, "")
	if err != nil {
		return err
	}
	s.reload(r, id.tenant())
	return writeJSON(w, status, meta)
}

func fieldBytes(fields map[string]string) map[string][]byte {
	out := make(map[string][]byte, len(fields))
	for k, v := range fields {
		out[k] = []byte(v)
	}
	return out
}

// storeSecret seals fields with the tenant's data key and stores them as
// the platform's key in one mode, replacing any key there, and audits it
// in the same transaction. source, when set, is recorded in the audit
// details (e.g. "simulator" for generated keys). The status is 201 for a
// new key and 200 for a replaced one.
func (s *Server) storeSecret(r *http.Request, id *identity, platform polybot.Platform, paper, active bool, fields map[string]string,
	extra json.RawMessage, source string) (polybot.SecretMeta, int, error) {
	var meta polybot.SecretMeta
	status := http.StatusCreated
	err := s.cfg.Store.Tenant(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		sec, err := s.cfg.Secrets.NewSecret(r.Context(), tx, platform, paper, fields)
		if err != nil {
			return err
		}
		sec.Active = active
		sec.AdditionalConfig = extra
		if _, err := tx.Secret(platform, paper); err == nil {
			status = http.StatusOK // replaced: a rotation
		}
		if err := tx.PutSecret(sec); err != nil {
			return err
		}
		meta = sec.Meta()
		d := map[string]any{"platform": platform, "is_paper": paper, "fields": meta.Fields, "fingerprint": sec.Fingerprint, "replaced": status == http.StatusOK}
		if source != "" {
			d["source"] = source
		}
		details, _ := json.Marshal(d)
		return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: polybot.AuditSecretCreate,
			Target: "secret:" + string(platform) + ":" + mode(paper), Details: string(details), CreatedAt: tx.Now()})
	})
	return meta, status, err
}

func (in *putSecretRequest) validate() error {
	p, err := polybot.ParsePlatform(in.Platform)
	if err != nil {
		return err
	}
	in.Platform = string(p)
	_, err = additionalConfig(in.AdditionalConfig)
	return err
}

// additionalConfig checks the non-secret settings stored beside a key.
func additionalConfig(raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage(`{}`), nil
	}
	if len(raw) > 4096 {
		return nil, polybot.FieldError("additional_config", "must be at most 4096 bytes")
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, polybot.FieldError("additional_config", "must be a JSON object")
	}
	if msg := polybot.JSONTextError(raw); msg != "" {
		return nil, polybot.FieldError("additional_config", msg)
	}
	out, _ := json.Marshal(obj)
	return out, nil
}

func mode(paper bool) string {
	if paper {
		return "paper"
	}
	return "live"
}

func (s *Server) handleDeleteSecret(w http.ResponseWriter, r *http.Request, id *identity) error {
	platform, err := polybot.ParsePlatform(r.PathValue("platform"))
	if err != nil {
		return err
	}
	paper, err := paperParam(r)
	if err != nil {
		return err
	}
	err = s.cfg.Store.Tenant(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		if err := tx.DeleteSecret(platform, paper); err != nil {
			return err
		}
		return tx.AppendAudit(&polybot.AuditEntry{Actor: id.actor(), Action: polybot.AuditSecretDelete,
			Target: "secret:" + string(platform) + ":" + mode(paper), Details: "{}", CreatedAt: tx.Now()})
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type simulatorSecretRequest struct {
	Paper *bool `json:"is_paper"`
}

// handleSimulatorSecret generates credentials the built-in simulators
// accept and stores them like any key (sealed, audited with source
// "simulator"). Only under --sim; elsewhere there is no such route.
func (s *Server) handleSimulatorSecret(w http.ResponseWriter, r *http.Request, id *identity) error {
	if !s.cfg.Sim || s.cfg.SimulatorKeys == nil {
		return polybot.Errorf(polybot.ENOTFOUND, "Simulator keys exist only when PolyBot runs with --sim.")
	}
	platform, err := polybot.ParsePlatform(r.PathValue("platform"))
	if err != nil {
		return err
	}
	if !polybot.VenueOf(platform).Simulated {
		var have []string
		for _, p := range polybot.Platforms {
			if polybot.VenueOf(p).Simulated {
				have = append(have, string(p))
			}
		}
		return polybot.FieldError("platform", "has no simulator: simulator keys exist for "+strings.Join(have, ", "))
	}
	var in simulatorSecretRequest
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(body)) != "" {
		if err := decodeStrict(body, &in); err != nil {
			return err
		}
	}
	paper := true
	if in.Paper != nil {
		paper = *in.Paper
	}
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	fields, err := s.cfg.SimulatorKeys(ctx, platform)
	cancel()
	if err != nil {
		if polybot.ErrorCode(err) == polybot.EINTERNAL {
			return &polybot.Error{Code: polybot.EUNAVAILABLE, Message: "the " + polybot.PlatformName(platform) + " simulator could not make a key; try again", Err: err}
		}
		return err
	}
	if err := polybot.CheckCredentialFormat(platform, fieldBytes(fields)); err != nil {
		return polybot.Internal(err) // the generator's bug, not the user's
	}
	meta, status, err := s.storeSecret(r, id, platform, paper, true, fields, json.RawMessage(`{}`), "simulator")
	if err != nil {
		return err
	}
	s.reload(r, id.tenant())
	return writeJSON(w, status, meta)
}

type validateResponse struct {
	Secret polybot.SecretMeta `json:"secret"`
	Valid  bool               `json:"valid"`
	Fields map[string]string  `json:"fields"`
}

// handleValidateSecret decrypts a stored key (an audited decrypt) and checks
// its format, recording the outcome as the key's validation status.
func (s *Server) handleValidateSecret(w http.ResponseWriter, r *http.Request, id *identity) error {
	platform, err := polybot.ParsePlatform(r.PathValue("platform"))
	if err != nil {
		return err
	}
	paper, err := paperParam(r)
	if err != nil {
		return err
	}
	// 1. Decrypt (an audited open) and check the format, in one transaction.
	var sec *polybot.Secret
	var plain secrets.Plaintext
	err = s.cfg.Store.Tenant(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		var err error
		if sec, err = tx.Secret(platform, paper); err != nil {
			return err
		}
		plain, err = s.cfg.Secrets.OpenAll(r.Context(), tx, sec, "validate")
		return err
	})
	if err != nil {
		return err
	}
	defer plain.Wipe()
	problem := polybot.CheckCredentialFormat(platform, plain)
	if problem != nil && polybot.ErrorCode(problem) != polybot.EINVALID {
		return problem
	}
	// 2. Ask the venue, outside any transaction: a network call must not
	// hold the database.
	if problem == nil && s.cfg.CheckCredentials != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
		err := s.cfg.CheckCredentials(ctx, id.tenant(), platform, paper, plain, sec.AdditionalConfig)
		cancel()
		var ve *polybot.VenueError
		var field, msg string
		var rejected bool
		if errors.As(err, &ve) {
			field, msg, rejected = polybot.CredentialRejection(platform, ve, len(plain[polybot.FieldAPIKey]) > 0)
		}
		switch {
		case err == nil:
		case rejected:
			problem = polybot.FieldError(field, msg)
		case polybot.ErrorCode(err) == polybot.EINVALID:
			problem = err
		default:
			// The venue could not be asked: the status stays as it was.
			return &polybot.Error{Code: polybot.EUNAVAILABLE, Message: "could not reach " + string(platform) + " to validate the key; try again", Err: err}
		}
	}
	// 3. Record the outcome.
	status := polybot.ValidationValid
	resp := validateResponse{Fields: map[string]string{}}
	if problem != nil {
		status = polybot.ValidationInvalid
		resp.Fields = polybot.ErrorFields(problem)
	}
	err = s.cfg.Store.Tenant(r.Context(), id.tenant(), func(tx polybot.TenantTx) error {
		now := tx.Now()
		if err := tx.SetSecretValidation(platform, paper, status, now); err != nil {
			return err
		}
		sec.ValidationStatus, sec.LastValidatedAt = status, &now
		return nil
	})
	if err != nil {
		return err
	}
	resp.Secret, resp.Valid = sec.Meta(), problem == nil
	return writeJSON(w, http.StatusOK, resp)
}

func paperParam(r *http.Request) (bool, error) {
	q := r.URL.Query().Get("paper")
	if q == "" {
		return false, polybot.FieldError("paper", "is required: true for paper keys, false for live keys")
	}
	paper, err := strconv.ParseBool(q)
	if err != nil {
		return false, polybot.FieldError("paper", "must be true or false")
	}
	return paper, nil
}

// --- audit ---

// tenantAuditEntry is an audit entry as its tenant sees it: no global
// sequence number and no chain hashes, which would tell the tenant how much
// everyone else does. Paging goes by the opaque cursor next.
type tenantAuditEntry struct {
	Actor     string    `json:"actor"`
	Action    string    `json:"action"`
	Target    string    `json:"target"`
	Details   string    `json:"details"`
	CreatedAt time.Time `json:"created_at"`
}

func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request, id *identity) error {
	_, limit, err := pageParams(r, "", 50, 200)
	if err != nil {
		return err
	}
	if !s.cfg.AuditKey.Loaded() {
		return polybot.ErrNoAuditKey()
	}
	tenant := id.tenant()
	var before int64
	if c := r.URL.Query().Get("before"); c != "" {
		if before, err = s.cfg.AuditKey.OpenCursor(tenant, c); err != nil {
			return err
		}
	}
	var page []*polybot.AuditEntry
	err = s.cfg.Store.TenantView(r.Context(), tenant, func(tx polybot.TenantTx) error {
		var err error
		page, err = tx.AuditTrail(before, limit)
		return err
	})
	if err != nil {
		return err
	}
	out := make([]tenantAuditEntry, len(page))
	for i, e := range page {
		out[i] = tenantAuditEntry{Actor: e.Actor, Action: e.Action, Target: e.Target, Details: e.Details, CreatedAt: e.CreatedAt}
	}
	resp := map[string]any{"entries": out}
	if len(page) == limit && page[len(page)-1].Seq > 1 {
		resp["next"] = s.cfg.AuditKey.SealCursor(tenant, page[len(page)-1].Seq)
	}
	return writeJSON(w, http.StatusOK, resp)
}

func pageParams(r *http.Request, cursor string, def, maxLimit int) (int64, int, error) {
	q := r.URL.Query()
	var c int64
	if v := q.Get(cursor); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, polybot.FieldError(cursor, "must be a non-negative integer")
		}
		c = n
	}
	limit := def
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return 0, 0, polybot.FieldError("limit", "must be between 1 and "+strconv.Itoa(maxLimit))
		}
		limit = n
	}
	return c, limit, nil
}
