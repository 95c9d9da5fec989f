package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
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
	// AllowAnonymous lets VerifyUser accept Supabase anonymous sign-ins
	// (is_anonymous: true). Off by default: an anonymous user has proved no
	// email or phone, so anyone could mint tenants.
	AllowAnonymous bool
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
//
// Signatures and registered claims are checked by github.com/golang-jwt/jwt/v5;
// JWKS keys are parsed by github.com/MicahParks/jwkset and looked up by
// github.com/MicahParks/keyfunc/v3. What stays here is policy: which
// algorithms and key sources are allowed, when the JWKS URL is fetched, and
// the fixed, token-free reasons given for a refusal.
type Verifier struct {
	issuer         string
	audience       string
	secret         []byte
	algs           []string
	leeway         time.Duration
	now            polybot.Clock
	allowAnonymous bool
	parser         *jwt.Parser
	keys           *keySource // nil without a JWKS
}

// NewVerifier checks cfg and returns a Verifier. A static JWKS is parsed now;
// JWKSURL is fetched on first use (call Refresh to fetch it at start-up).
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	v := &Verifier{
		issuer:         cfg.Issuer,
		audience:       cfg.Audience,
		leeway:         cfg.Leeway,
		now:            cfg.Clock,
		allowAnonymous: cfg.AllowAnonymous,
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
	if len(cfg.HS256Secret) > 0 {
		if len(cfg.HS256Secret) < minHS256Secret {
			return nil, fmt.Errorf("auth: the HS256 secret must be at least %d bytes", minHS256Secret)
		}
		v.secret = bytes.Clone(cfg.HS256Secret)
	}
	if len(cfg.JWKS) > 0 || cfg.JWKSURL != "" {
		ks, err := newKeySource(cfg, v.now)
		if err != nil {
			return nil, err
		}
		v.keys = ks
	}
	hasJWKS := v.keys != nil
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
	v.parser = jwt.NewParser(
		jwt.WithValidMethods(v.algs),
		jwt.WithIssuer(v.issuer),
		jwt.WithAudience(v.audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(v.leeway),
		jwt.WithTimeFunc(v.now),
	)
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
	if v.keys == nil || v.keys.remote == nil {
		return nil
	}
	return v.keys.remote.fetch(ctx)
}

// invalid is the error for a token that fails verification. reason is fixed
// text: never the token or any part of it.
func invalid(reason string) *polybot.Error {
	return polybot.Errorf(polybot.EUNAUTHORIZED, "invalid token: %s", reason)
}

// VerifyUser is Verify for routes that act as a signed-in user: the token's
// role must be "authenticated" (service_role is refused with EFORBIDDEN,
// other roles such as anon with EUNAUTHORIZED), it must name a user, and an
// anonymous sign-in (is_anonymous) is refused unless AllowAnonymous is set.
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
	if c.IsAnonymous && !v.allowAnonymous {
		return nil, invalid("anonymous sign-ins are not allowed")
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
	hdr, err := readHeader(token)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(v.algs, hdr.Alg) { // "none" is never in algs
		return nil, invalid("signing algorithm not allowed")
	}
	var rc rawClaims
	if _, err := v.parser.ParseWithClaims(token, &rc, v.keyfunc(ctx, hdr.Alg, hdr.Kid)); err != nil {
		return nil, v.refusal(err, &rc)
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

// header is what the Verifier reads of a JOSE header.
type header struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  string          `json:"typ"`
	Crit json.RawMessage `json:"crit"`
}

// readHeader checks the token's form (three strict base64url segments, a
// JSON header) and the header fields golang-jwt leaves alone: crit, which
// must be refused when not understood (RFC 7515 §4.1.11), and typ. Checking
// the form first gives each malformed token a precise reason.
func readHeader(token string) (*header, error) {
	h64, rest, ok1 := strings.Cut(token, ".")
	p64, s64, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(s64, ".") {
		return nil, invalid("not a JWS compact serialisation")
	}
	hb, err := b64url.DecodeString(h64)
	if err != nil {
		return nil, invalid("malformed header encoding")
	}
	var hdr header
	if err := json.Unmarshal(hb, &hdr); err != nil {
		return nil, invalid("malformed header")
	}
	if hdr.Crit != nil {
		return nil, invalid("unsupported critical header")
	}
	if hdr.Typ != "" && !strings.EqualFold(hdr.Typ, "JWT") {
		return nil, invalid("not a JWT")
	}
	if _, err := b64url.DecodeString(s64); err != nil {
		return nil, invalid("malformed signature encoding")
	}
	if _, err := b64url.DecodeString(p64); err != nil {
		return nil, invalid("malformed payload encoding")
	}
	return &hdr, nil
}

// keyfunc gives golang-jwt the key for alg. Each algorithm takes its key from
// its own source: HS256 only ever uses the configured secret, ES256 and RS256
// only JWKS keys of the matching type, so one kind of key can never stand in
// for another.
func (v *Verifier) keyfunc(ctx context.Context, alg, kid string) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		if t.Method.Alg() != alg {
			return nil, invalid("signing algorithm not allowed")
		}
		if alg == HS256 {
			return v.secret, nil
		}
		return v.keys.key(ctx, t, kid)
	}
}

// refusal turns a golang-jwt error into the fixed reason the caller sees.
// rc is what was decoded of the claims, so that a missing claim can be told
// from a wrong one.
func (v *Verifier) refusal(err error, rc *rawClaims) error {
	var pe *polybot.Error
	switch {
	case errors.As(err, &pe): // from keyfunc
		return pe
	case errors.Is(err, jwt.ErrTokenMalformed): // the form was checked: only the claims remain
		return invalid("malformed claims")
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return invalid("signing algorithm not allowed")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return invalid("bad signature")
	case rc.Exp == nil:
		return invalid("missing exp")
	case errors.Is(err, jwt.ErrTokenExpired):
		return invalid("expired")
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return invalid("not valid yet")
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return invalid("issued in the future")
	case rc.Iss != v.issuer:
		return invalid("wrong issuer")
	case !slices.Contains(rc.Aud, v.audience):
		return invalid("wrong audience")
	}
	return invalid("claims not valid")
}

// rawClaims is the JSON form of the claims read. It implements jwt.Claims
// with dates that refuse what time.Time cannot hold.
type rawClaims struct {
	Iss          string           `json:"iss"`
	Sub          *string          `json:"sub"`
	Aud          jwt.ClaimStrings `json:"aud"`
	Exp          *numericDate     `json:"exp"`
	Iat          *numericDate     `json:"iat"`
	Nbf          *numericDate     `json:"nbf"`
	Email        string           `json:"email"`
	Phone        string           `json:"phone"`
	Role         string           `json:"role"`
	SessionID    string           `json:"session_id"`
	AAL          string           `json:"aal"`
	IsAnonymous  bool             `json:"is_anonymous"`
	AppMetadata  json.RawMessage  `json:"app_metadata"`
	UserMetadata json.RawMessage  `json:"user_metadata"`
}

var _ jwt.Claims = (*rawClaims)(nil)

func (c *rawClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.Exp.jwt(), nil }
func (c *rawClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.Iat.jwt(), nil }
func (c *rawClaims) GetNotBefore() (*jwt.NumericDate, error)      { return c.Nbf.jwt(), nil }
func (c *rawClaims) GetIssuer() (string, error)                   { return c.Iss, nil }
func (c *rawClaims) GetAudience() (jwt.ClaimStrings, error)       { return c.Aud, nil }
func (c *rawClaims) GetSubject() (string, error) {
	if c.Sub == nil {
		return "", nil
	}
	return *c.Sub, nil
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

func (d *numericDate) jwt() *jwt.NumericDate {
	if d == nil {
		return nil
	}
	return &jwt.NumericDate{Time: d.t}
}
