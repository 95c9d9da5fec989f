package auth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/polybot/polybot"
)

// Signing algorithms the Verifier knows.
const (
	HS256 = "HS256" // HMAC-SHA256 with the project's legacy JWT secret
	ES256 = "ES256" // ECDSA P-256, key from the JWKS
	RS256 = "RS256" // RSASSA-PKCS1-v1_5 SHA-256, key from the JWKS
)

// Defaults for VerifierConfig.
const (
	DefaultAudience        = "authenticated"
	DefaultLeeway          = 30 * time.Second
	DefaultJWKSRefetch     = time.Minute
	DefaultJWKSMaxAge      = 10 * time.Minute
	defaultJWKSHTTPTimeout = 10 * time.Second
)

// minHS256Secret is the shortest HMAC secret accepted: 256 bits.
const minHS256Secret = 32

// maxTokenLen bounds what is parsed at all.
const maxTokenLen = 16 << 10

// VerifierConfig says which Supabase project's tokens to accept and how.
type VerifierConfig struct {
	// Issuer must equal the token's iss: https://<project>.supabase.co/auth/v1.
	// Required.
	Issuer string
	// Audience must be among the token's aud (default "authenticated").
	Audience string

	// HS256Secret is the project's legacy JWT secret, used as is (not
	// base64-decoded), as Supabase does. At least 32 bytes. Empty disables HS256.
	HS256Secret []byte
	// JWKS is a static JWKS document. Its keys are always trusted.
	JWKS []byte
	// JWKSURL is fetched for more keys:
	// https://<project>.supabase.co/auth/v1/.well-known/jwks.json. It must be
	// https, except on a loopback host (a local Supabase).
	JWKSURL string
	// HTTPClient fetches JWKSURL (default: a client with a 10 s timeout).
	HTTPClient *http.Client
	// JWKSRefetch is the least time between two fetches (default 1 minute). A
	// token with an unknown kid triggers a fetch only if the last one is older.
	JWKSRefetch time.Duration
	// JWKSMaxAge is how long fetched keys are used before a refresh is due
	// (default 10 minutes). A failed refresh keeps the old keys.
	JWKSMaxAge time.Duration

	// Algorithms narrows the accepted algorithms. By default HS256 is
	// accepted when HS256Secret is set, ES256 and RS256 when a JWKS is.
	// Naming one whose key source is not configured is an error.
	Algorithms []string
	// Leeway is the allowed clock skew for exp, nbf and iat (default 30 s;
	// negative for none).
	Leeway time.Duration
	// Clock defaults to polybot.SystemClock.
	Clock polybot.Clock
}

// Claims are the verified contents of a Supabase access token.
type Claims struct {
	// Sub is the Supabase user id; zero only if the token had no sub (never
	// from VerifyUser).
	Sub       polybot.ID
	Email     string
	Phone     string
	Role      string // "authenticated", "anon", "service_role", …
	SessionID string
	AAL       string // authenticator assurance level: "aal1", "aal2"
	// IsAnonymous marks Supabase anonymous sign-ins.
	IsAnonymous bool
	// AppMetadata is set by the server side of Supabase only; UserMetadata
	// is editable by the user and must not be trusted for authorisation.
	AppMetadata  json.RawMessage
	UserMetadata json.RawMessage
	Issuer       string
	Audience     []string
	Exp          time.Time
	Iat          time.Time // zero if absent
}

// Verifier checks Supabase-issued JWTs. It is safe for concurrent use.
type Verifier struct {
	issuer   string
	audience string
	secret   []byte
	algs     []string
	leeway   time.Duration
	now      polybot.Clock

	static map[string]*publicKey

	url     string
	client  *http.Client
	refetch time.Duration
	maxAge  time.Duration
	mu      sync.RWMutex
	remote  remoteKeys
}

// NewVerifier checks cfg and returns a Verifier. A static JWKS is parsed now;
// JWKSURL is fetched on first use (call Refresh to fetch it at start-up).
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	v := &Verifier{
		issuer:   cfg.Issuer,
		audience: cfg.Audience,
		leeway:   cfg.Leeway,
		now:      cfg.Clock,
		url:      cfg.JWKSURL,
		client:   cfg.HTTPClient,
		refetch:  cfg.JWKSRefetch,
		maxAge:   cfg.JWKSMaxAge,
	}
	if v.issuer == "" {
		return nil, errors.New("auth: JWT verifier needs an issuer")
	}
	if v.audience == "" {
		v.audience = DefaultAudience
	}
	switch {
	case v.leeway == 0:
		v.leeway = DefaultLeeway
	case v.leeway < 0:
		v.leeway = 0
	}
	if v.now == nil {
		v.now = polybot.SystemClock
	}
	if v.client == nil {
		v.client = &http.Client{Timeout: defaultJWKSHTTPTimeout}
	}
	if v.refetch <= 0 {
		v.refetch = DefaultJWKSRefetch
	}
	if v.maxAge <= 0 {
		v.maxAge = DefaultJWKSMaxAge
	}
	if len(cfg.HS256Secret) > 0 {
		if len(cfg.HS256Secret) < minHS256Secret {
			return nil, fmt.Errorf("auth: the HS256 secret must be at least %d bytes", minHS256Secret)
		}
		v.secret = bytes.Clone(cfg.HS256Secret)
	}
	if len(cfg.JWKS) > 0 {
		keys, err := parseJWKS(cfg.JWKS)
		if err != nil {
			return nil, fmt.Errorf("auth: static %w", err)
		}
		v.static = keys
	}
	if v.url != "" {
		if err := checkJWKSURL(v.url); err != nil {
			return nil, err
		}
	}
	hasJWKS := v.static != nil || v.url != ""
	if v.secret == nil && !hasJWKS {
		return nil, errors.New("auth: JWT verifier needs an HS256 secret, a JWKS or a JWKS URL")
	}
	if len(cfg.Algorithms) == 0 {
		if v.secret != nil {
			v.algs = append(v.algs, HS256)
		}
		if hasJWKS {
			v.algs = append(v.algs, ES256, RS256)
		}
		return v, nil
	}
	for _, a := range cfg.Algorithms {
		switch {
		case a == HS256 && v.secret == nil:
			return nil, errors.New("auth: HS256 is allowed but no HS256 secret is configured")
		case (a == ES256 || a == RS256) && !hasJWKS:
			return nil, fmt.Errorf("auth: %s is allowed but no JWKS is configured", a)
		case a != HS256 && a != ES256 && a != RS256:
			return nil, fmt.Errorf("auth: unsupported JWT algorithm %q", a)
		}
		if !slices.Contains(v.algs, a) {
			v.algs = append(v.algs, a)
		}
	}
	return v, nil
}

func checkJWKSURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return errors.New("auth: the JWKS URL must be an absolute URL")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		h := u.Hostname()
		if ip := net.ParseIP(h); h == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
	}
	return errors.New("auth: the JWKS URL must use https (http only on a loopback host)")
}

// Refresh fetches the JWKS URL now, whatever the refetch interval. It is
// meant for start-up, to fail fast on a wrong URL.
func (v *Verifier) Refresh(ctx context.Context) error {
	if v.url == "" {
		return nil
	}
	return v.fetch(ctx)
}

// invalid is the error for a token that fails verification. reason is fixed
// text: never the token or any part of it.
func invalid(reason string) *polybot.Error {
	return polybot.Errorf(polybot.EUNAUTHORIZED, "invalid token: %s", reason)
}

// VerifyUser is Verify for routes that act as a signed-in user: the token's
// role must be "authenticated" (service_role is refused with EFORBIDDEN,
// other roles such as anon with EUNAUTHORIZED) and it must name a user.
func (v *Verifier) VerifyUser(ctx context.Context, token string) (*Claims, error) {
	c, err := v.Verify(ctx, token)
	if err != nil {
		return nil, err
	}
	switch c.Role {
	case "authenticated":
	case "service_role":
		return nil, polybot.Errorf(polybot.EFORBIDDEN, "a service_role token cannot act as a user")
	default:
		return nil, invalid("role is not authenticated")
	}
	if c.Sub.IsZero() {
		return nil, invalid("missing sub")
	}
	return c, nil
}

// Verify checks token's signature, algorithm, times, issuer and audience and
// returns its claims. It does not look at the role; see VerifyUser. Failures
// are EUNAUTHORIZED; EUNAVAILABLE when the JWKS is needed and cannot be fetched.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	if len(token) > maxTokenLen {
		return nil, invalid("too long")
	}
	h64, rest, ok1 := strings.Cut(token, ".")
	p64, s64, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(s64, ".") {
		return nil, invalid("not a JWS compact serialisation")
	}
	hb, err := b64url.DecodeString(h64)
	if err != nil {
		return nil, invalid("malformed header encoding")
	}
	var hdr struct {
		Alg  string          `json:"alg"`
		Kid  string          `json:"kid"`
		Typ  string          `json:"typ"`
		Crit json.RawMessage `json:"crit"`
	}
	if err := json.Unmarshal(hb, &hdr); err != nil {
		return nil, invalid("malformed header")
	}
	if hdr.Crit != nil {
		return nil, invalid("unsupported critical header")
	}
	if hdr.Typ != "" && !strings.EqualFold(hdr.Typ, "JWT") {
		return nil, invalid("not a JWT")
	}
	if !slices.Contains(v.algs, hdr.Alg) { // "none" is never in algs
		return nil, invalid("signing algorithm not allowed")
	}
	sig, err := b64url.DecodeString(s64)
	if err != nil {
		return nil, invalid("malformed signature encoding")
	}
	payload, err := b64url.DecodeString(p64)
	if err != nil {
		return nil, invalid("malformed payload encoding")
	}
	if err := v.checkSignature(ctx, hdr.Alg, hdr.Kid, token[:len(h64)+1+len(p64)], sig); err != nil {
		return nil, err
	}
	return v.checkClaims(payload)
}

// checkSignature verifies sig over signed. Each algorithm takes its key from
// its own source: HS256 only ever uses the configured secret, ES256 and RS256
// only JWKS keys of the matching type, so one kind of key can never stand in
// for another.
func (v *Verifier) checkSignature(ctx context.Context, alg, kid, signed string, sig []byte) error {
	digest := sha256.Sum256([]byte(signed))
	switch alg {
	case HS256:
		mac := hmac.New(sha256.New, v.secret)
		mac.Write([]byte(signed))
		if !hmac.Equal(mac.Sum(nil), sig) {
			return invalid("bad signature")
		}
		return nil
	case ES256:
		k, err := v.key(ctx, kid)
		if err != nil {
			return err
		}
		if k.ec == nil || (k.alg != "" && k.alg != ES256) {
			return invalid("signing key does not match the algorithm")
		}
		if len(sig) != 64 {
			return invalid("bad signature")
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(k.ec, digest[:], r, s) {
			return invalid("bad signature")
		}
		return nil
	case RS256:
		k, err := v.key(ctx, kid)
		if err != nil {
			return err
		}
		if k.rsa == nil || (k.alg != "" && k.alg != RS256) {
			return invalid("signing key does not match the algorithm")
		}
		if rsa.VerifyPKCS1v15(k.rsa, crypto.SHA256, digest[:], sig) != nil {
			return invalid("bad signature")
		}
		return nil
	}
	return invalid("signing algorithm not allowed")
}

// key finds the JWKS key kid: static keys first, then the fetched set,
// fetching it when it is missing, stale, or lacks kid, at most once per
// refetch interval.
func (v *Verifier) key(ctx context.Context, kid string) (*publicKey, error) {
	if kid == "" {
		return nil, invalid("missing key id")
	}
	if k, ok := v.static[kid]; ok {
		return k, nil
	}
	if v.url == "" {
		return nil, invalid("unknown signing key")
	}
	now := v.now()
	v.mu.RLock()
	k, found := v.remote.keys[kid]
	fresh := v.remote.keys != nil && now.Sub(v.remote.fetchedAt) < v.maxAge
	due := v.remote.triedAt.IsZero() || now.Sub(v.remote.triedAt) >= v.refetch
	v.mu.RUnlock()
	if found && (fresh || !due) {
		return k, nil
	}
	if due {
		// Another request may be fetching already; then this one goes on
		// with what is cached rather than waiting.
		if v.claimFetch(now) {
			_ = v.fetch(ctx)
		}
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	if k, ok := v.remote.keys[kid]; ok {
		return k, nil
	}
	if v.remote.err != nil {
		return nil, &polybot.Error{Code: polybot.EUNAVAILABLE, Message: "cannot fetch the token signing keys", Err: v.remote.err}
	}
	return nil, invalid("unknown signing key")
}

// claimFetch reserves the next fetch for the caller if none happened within
// the refetch interval.
func (v *Verifier) claimFetch(now time.Time) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.remote.triedAt.IsZero() && now.Sub(v.remote.triedAt) < v.refetch {
		return false
	}
	v.remote.triedAt = now
	return true
}

func (v *Verifier) fetch(ctx context.Context) error {
	// A request that gives up must not cut short a fetch every later
	// request relies on; the client's timeout bounds it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), defaultJWKSHTTPTimeout)
	defer cancel()
	keys, err := fetchJWKS(ctx, v.client, v.url)
	now := v.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	v.remote.triedAt = now
	v.remote.err = err
	if err != nil {
		return &polybot.Error{Code: polybot.EUNAVAILABLE, Message: "cannot fetch the token signing keys", Err: err}
	}
	v.remote.keys, v.remote.fetchedAt = keys, now
	return nil
}

// rawClaims is the JSON form of the claims read.
type rawClaims struct {
	Iss          string          `json:"iss"`
	Sub          *string         `json:"sub"`
	Aud          audience        `json:"aud"`
	Exp          *numericDate    `json:"exp"`
	Iat          *numericDate    `json:"iat"`
	Nbf          *numericDate    `json:"nbf"`
	Email        string          `json:"email"`
	Phone        string          `json:"phone"`
	Role         string          `json:"role"`
	SessionID    string          `json:"session_id"`
	AAL          string          `json:"aal"`
	IsAnonymous  bool            `json:"is_anonymous"`
	AppMetadata  json.RawMessage `json:"app_metadata"`
	UserMetadata json.RawMessage `json:"user_metadata"`
}

func (v *Verifier) checkClaims(payload []byte) (*Claims, error) {
	var rc rawClaims
	if err := json.Unmarshal(payload, &rc); err != nil {
		return nil, invalid("malformed claims")
	}
	now := v.now()
	switch {
	case rc.Exp == nil:
		return nil, invalid("missing exp")
	case !now.Before(rc.Exp.t.Add(v.leeway)):
		return nil, invalid("expired")
	case rc.Nbf != nil && now.Add(v.leeway).Before(rc.Nbf.t):
		return nil, invalid("not valid yet")
	case rc.Iat != nil && now.Add(v.leeway).Before(rc.Iat.t):
		return nil, invalid("issued in the future")
	case rc.Iss != v.issuer:
		return nil, invalid("wrong issuer")
	case !slices.Contains(rc.Aud, v.audience):
		return nil, invalid("wrong audience")
	}
	c := &Claims{
		Email:        rc.Email,
		Phone:        rc.Phone,
		Role:         rc.Role,
		SessionID:    rc.SessionID,
		AAL:          rc.AAL,
		IsAnonymous:  rc.IsAnonymous,
		AppMetadata:  rc.AppMetadata,
		UserMetadata: rc.UserMetadata,
		Issuer:       rc.Iss,
		Audience:     rc.Aud,
		Exp:          rc.Exp.t,
	}
	if rc.Iat != nil {
		c.Iat = rc.Iat.t
	}
	if rc.Sub != nil {
		id, err := polybot.ParseID(*rc.Sub)
		if err != nil || id.IsZero() {
			return nil, invalid("sub is not a user id")
		}
		c.Sub = id
	}
	return c, nil
}

// audience is aud as either one string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*a = nil
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = audience{s}
		return nil
	}
	var ss []string
	if err := json.Unmarshal(b, &ss); err != nil {
		return errors.New("aud must be a string or an array of strings")
	}
	*a = ss
	return nil
}

// numericDate is a JWT NumericDate: seconds since the epoch, maybe fractional.
type numericDate struct{ t time.Time }

// maxNumericDate keeps dates inside what time.Time and float64 hold exactly.
const maxNumericDate = 1 << 40

func (d *numericDate) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return errors.New("a date must be a number")
	}
	if math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return errors.New("date out of range")
	}
	sec, frac := math.Modf(f)
	d.t = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	return nil
}
