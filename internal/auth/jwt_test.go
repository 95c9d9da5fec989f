package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

const (
	testIssuer = "https://abcdefghijklmnop.supabase.co/auth/v1"
	testSub    = "6f1c2a8e-4b7d-4c1e-9a3f-2d5e8b7c6a10"
)

var testSecret = []byte("super-secret-jwt-token-with-at-least-32-characters-long")

// testKeys are generated once per test binary: RSA generation is slow.
var testKeys = sync.OnceValue(func() (k struct {
	ec, ec2, ecOther *ecdsa.PrivateKey
	rsa              *rsa.PrivateKey
}) {
	var err error
	for _, p := range []**ecdsa.PrivateKey{&k.ec, &k.ec2, &k.ecOther} {
		if *p, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
	}
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	return k
})

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func ecJWK(pub *ecdsa.PublicKey, kid string) map[string]any {
	b, err := pub.Bytes()
	if err != nil {
		panic(err)
	}
	return map[string]any{"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig", "x": b64(b[1:33]), "y": b64(b[33:])}
}

func rsaJWK(pub *rsa.PublicKey, kid string) map[string]any {
	return map[string]any{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())}
}

func jwksDoc(keys ...map[string]any) []byte {
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		panic(err)
	}
	return b
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b64(b)
}

// signWith signs header.payload (already encoded) with alg and key, which is
// []byte for HS256, *ecdsa.PrivateKey for ES256, *rsa.PrivateKey for RS256.
func signWith(alg string, key any, signingInput string) string {
	digest := sha256.Sum256([]byte(signingInput))
	switch alg {
	case HS256:
		m := hmac.New(sha256.New, key.([]byte))
		m.Write([]byte(signingInput))
		return b64(m.Sum(nil))
	case ES256:
		r, s, err := ecdsa.Sign(rand.Reader, key.(*ecdsa.PrivateKey), digest[:])
		if err != nil {
			panic(err)
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return b64(sig)
	case RS256:
		sig, err := rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, digest[:])
		if err != nil {
			panic(err)
		}
		return b64(sig)
	}
	return ""
}

// mint builds a signed token. header and claims are maps the caller may edit
// through the mutate functions.
func mint(alg string, key any, kid string, claims map[string]any, mutateHeader ...func(map[string]any)) string {
	h := map[string]any{"alg": alg, "typ": "JWT"}
	if kid != "" {
		h["kid"] = kid
	}
	for _, f := range mutateHeader {
		f(h)
	}
	in := mustJSON(h) + "." + mustJSON(claims)
	return in + "." + signWith(alg, key, in)
}

// userClaims are the claims of a Supabase access token issued at now.
func userClaims(now time.Time) map[string]any {
	return map[string]any{
		"iss":           testIssuer,
		"sub":           testSub,
		"aud":           "authenticated",
		"exp":           now.Add(time.Hour).Unix(),
		"iat":           now.Unix(),
		"email":         "alice@example.com",
		"phone":         "",
		"role":          "authenticated",
		"aal":           "aal1",
		"session_id":    "0b0c1e1a-58a5-4a8e-8a43-0b3b5f0e8a11",
		"is_anonymous":  false,
		"app_metadata":  map[string]any{"provider": "email", "providers": []string{"email"}},
		"user_metadata": map[string]any{"name": "Alice"},
	}
}

// with returns a copy of userClaims(now) with changes; a nil value deletes.
func with(now time.Time, changes map[string]any) map[string]any {
	c := userClaims(now)
	for k, v := range changes {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func newTestVerifier(t *testing.T, cfg VerifierConfig) *Verifier {
	t.Helper()
	if cfg.Issuer == "" {
		cfg.Issuer = testIssuer
	}
	v, err := NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// jwksServer serves a JWKS that tests can replace, and counts fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	doc     []byte
	status  int
	fetches atomic.Int32
}

func newJWKSServer(t *testing.T, doc []byte) *jwksServer {
	s := &jwksServer{doc: doc, status: http.StatusOK}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		if r.URL.Path != "/auth/v1/.well-known/jwks.json" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(s.status)
		w.Write(s.doc)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) serve(status int, doc []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.doc = status, doc
}

func (s *jwksServer) config(clk *fakeClock) VerifierConfig {
	return VerifierConfig{JWKSURL: s.URL + "/auth/v1/.well-known/jwks.json", HTTPClient: s.Client(), Clock: clk.Now}
}

// tamper replaces segment i (0 header, 1 payload, 2 signature) of a token.
func tamper(token string, i int, with string) string {
	parts := strings.Split(token, ".")
	parts[i] = with
	return strings.Join(parts, ".")
}

func TestVerifierRejectsBadTokensAndAcceptsGoodOnes(t *testing.T) {
	k := testKeys()
	clk := newFakeClock()
	now := clk.Now()
	staticJWKS := jwksDoc(ecJWK(&k.ec.PublicKey, "ec-1"), rsaJWK(&k.rsa.PublicKey, "rsa-1"))
	srv := newJWKSServer(t, staticJWKS)

	hsOnly := newTestVerifier(t, VerifierConfig{HS256Secret: testSecret, Clock: clk.Now})
	jwksOnly := newTestVerifier(t, VerifierConfig{JWKS: staticJWKS, Clock: clk.Now})
	both := newTestVerifier(t, VerifierConfig{HS256Secret: testSecret, JWKS: staticJWKS, Clock: clk.Now})
	esOnly := newTestVerifier(t, VerifierConfig{JWKS: staticJWKS, Algorithms: []string{ES256}, Clock: clk.Now})
	byURL := newTestVerifier(t, srv.config(clk))
	octJWKS := newTestVerifier(t, VerifierConfig{JWKS: jwksDoc(
		ecJWK(&k.ec.PublicKey, "ec-1"),
		map[string]any{"kty": "oct", "kid": "oct-1", "alg": "HS256", "k": b64(testSecret)},
	), Clock: clk.Now})

	good := userClaims(now)
	hs := mint(HS256, testSecret, "", good)
	es := mint(ES256, k.ec, "ec-1", good)
	rs := mint(RS256, k.rsa, "rsa-1", good)
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: must(x509.MarshalPKIXPublicKey(&k.rsa.PublicKey))})
	ecDER := func() string { // an ASN.1 DER signature instead of raw r||s
		in := mustJSON(map[string]any{"alg": "ES256", "typ": "JWT", "kid": "ec-1"}) + "." + mustJSON(good)
		d := sha256.Sum256([]byte(in))
		sig, err := ecdsa.SignASN1(rand.Reader, k.ec, d[:])
		if err != nil {
			t.Fatal(err)
		}
		return in + "." + b64(sig)
	}()
	unsigned := mustJSON(map[string]any{"alg": "none", "typ": "JWT"}) + "." + mustJSON(good) + "."

	const unauth, forbidden = polybot.EUNAUTHORIZED, polybot.EFORBIDDEN
	tests := []struct {
		name     string
		v        *Verifier
		token    string
		wantCode string // "" accepts
		wantMsg  string
	}{
		// Accepted.
		{"HS256 signed with the project secret is accepted", hsOnly, hs, "", ""},
		{"ES256 signed by a static JWKS key is accepted", jwksOnly, es, "", ""},
		{"RS256 signed by a static JWKS key is accepted", jwksOnly, rs, "", ""},
		{"HS256 is accepted when both key sources are configured", both, hs, "", ""},
		{"ES256 is accepted when both key sources are configured", both, es, "", ""},
		{"ES256 signed by a key from the JWKS URL is accepted", byURL, es, "", ""},
		{"RS256 signed by a key from the JWKS URL is accepted", byURL, rs, "", ""},
		{"aud as an array containing authenticated is accepted", hsOnly, mint(HS256, testSecret, "", with(now, map[string]any{"aud": []string{"other", "authenticated"}})), "", ""},
		{"exp just inside the leeway is accepted", hsOnly, mint(HS256, testSecret, "", with(now, map[string]any{"exp": now.Add(-29 * time.Second).Unix()})), "", ""},
		{"iat just inside the leeway is accepted", hsOnly, mint(HS256, testSecret, "", with(now, map[string]any{"iat": now.Add(29 * time.Second).Unix()})), "", ""},
		{"missing iat is accepted", hsOnly, mint(HS256, testSecret, "", with(now, map[string]any{"iat": nil})), "", ""},
		{"fractional dates are accepted", hsOnly, mint(HS256, testSecret, "", with(now, map[string]any{"exp": float64(now.Unix()) + 60.5})), "", ""},
		{"typ header may be absent", hsOnly, mint(HS256, testSecret, "", good, func(h map[string]any) { delete(h, "typ") }), "", ""},

		// Algorithm.
		{"alg none is rejected", both, unsigned, unauth, "algorithm not allowed"},
		{"alg None in another case is rejected", both, mint(HS256, testSecret, "", good, func(h map[string]any) { h["alg"] = "None" }), unauth, "algorithm not allowed"},
		{"alg HS512 is rejected", both, mint(HS256, testSecret, "", good, func(h map[string]any) { h["alg"] = "HS512" }), unauth, "algorithm not allowed"},
		{"missing alg is rejected", both, mint(HS256, testSecret, "", good, func(h map[string]any) { delete(h, "alg") }), unauth, "algorithm not allowed"},
		{"RS256 is rejected when only ES256 is allowed", esOnly, rs, unauth, "algorithm not allowed"},
		{"HS256 is rejected when only a JWKS is configured", jwksOnly, hs, unauth, "algorithm not allowed"},
		{"HS256 signed with the RSA public key PEM is rejected when only a JWKS is configured", jwksOnly, mint(HS256, rsaPEM, "rsa-1", good), unauth, "algorithm not allowed"},
		{"HS256 signed with the RSA public key PEM is rejected with both configured", both, mint(HS256, rsaPEM, "rsa-1", good), unauth, "bad signature"},
		{"HS256 signed with an oct key from the JWKS is rejected", octJWKS, mint(HS256, testSecret, "oct-1", good), unauth, "algorithm not allowed"},
		{"ES256 is rejected when only an HS256 secret is configured", hsOnly, es, unauth, "algorithm not allowed"},
		{"RS256 is rejected when only an HS256 secret is configured", hsOnly, rs, unauth, "algorithm not allowed"},
		{"ES256 naming an RSA key is rejected", jwksOnly, mint(ES256, k.ec, "rsa-1", good), unauth, "does not match the algorithm"},
		{"RS256 naming an EC key is rejected", jwksOnly, mint(RS256, k.rsa, "ec-1", good), unauth, "does not match the algorithm"},

		// Keys and signatures.
		{"unknown kid is rejected", jwksOnly, mint(ES256, k.ec, "ec-9", good), unauth, "unknown signing key"},
		{"unknown kid at the JWKS URL is rejected", byURL, mint(ES256, k.ec, "ec-9", good), unauth, "unknown signing key"},
		{"missing kid is rejected for ES256", jwksOnly, mint(ES256, k.ec, "", good), unauth, "missing key id"},
		{"HS256 signed with another secret is rejected", hsOnly, mint(HS256, []byte("another-secret-that-is-also-32-bytes-long!"), "", good), unauth, "bad signature"},
		{"ES256 signed by another key under a known kid is rejected", jwksOnly, mint(ES256, k.ecOther, "ec-1", good), unauth, "bad signature"},
		{"ES256 with a DER signature is rejected", jwksOnly, ecDER, unauth, "bad signature"},
		{"RS256 with a tampered payload is rejected", jwksOnly, tamper(rs, 1, mustJSON(with(now, map[string]any{"role": "service_role"}))), unauth, "bad signature"},
		{"HS256 with an empty signature is rejected", hsOnly, tamper(hs, 2, ""), unauth, "bad signature"},

		// Form.
		{"empty token is rejected", hsOnly, "", unauth, "not a JWS"},
		{"two segments are rejected", hsOnly, hs[:strings.LastIndexByte(hs, '.')], unauth, "not a JWS"},
		{"four segments are rejected", hsOnly, hs + ".x", unauth, "not a JWS"},
		{"header that is not base64url is rejected", hsOnly, tamper(hs, 0, "!!"), unauth, "malformed header encoding"},
		{"padded base64 header is rejected", hsOnly, tamper(hs, 0, base64.URLEncoding.EncodeToString([]byte(`{"alg": "HS256"}`))), unauth, "malformed header encoding"},
		{"header that is not JSON is rejected", hsOnly, tamper(hs, 0, b64([]byte("alg=HS256"))), unauth, "malformed header"},
		{"header that is a JSON array is rejected", hsOnly, tamper(hs, 0, b64([]byte(`["HS256"]`))), unauth, "malformed header"},
		{"payload that is not base64url is rejected", hsOnly, tamper(hs, 1, "e30*"), unauth, "malformed payload encoding"},
		{"signature that is not base64url is rejected", hsOnly, tamper(hs, 2, "sig/+"), unauth, "malformed signature encoding"},
		{"signed payload that is not JSON is rejected", hsOnly, func() string {
			in := mustJSON(map[string]any{"alg": "HS256"}) + "." + b64([]byte("not json"))
			return in + "." + signWith(HS256, testSecret, in)
		}(), unauth, "malformed claims"},
		{"exp that is a string is rejected", hsOnly, mint(HS256, testSecret, "", with(now, map[string]any{"exp": "tomorrow"})), unauth, "malformed claims"},
		{"aud that is a number is rejected", hsOnly, mint(HS256, testSecret, "", with(now, map[string]any{"aud": 7})), unauth, "malformed claims"},
		{"crit header is rejected", hsOnly, mint(HS256, testSecret, "", good, func(h map[string]any) { h["crit"] = []string{"exp"} }), unauth, "critical header"},
		{"typ other than JWT is rejected", hsOnly, mint(HS256, testSecret, "", good, func(h map[string]any) { h["typ"] = "at+jwt+other" }), unauth, "not a JWT"},
		{"a token over 16 KiB is rejected", hsOnly, mint(HS256, testSecret, "", with(now, map[string]any{"user_metadata": strings.Repeat("x", 17<<10)})), unauth, "too long"},

		// Times.
		{"expired beyond the leeway is rejected", hsOnly, mint(HS256, testSecret, "", with(now, map[string]any{"exp": now.Add(-31 * time.Second).Unix()})), unauth, "expired"},
		{"missing exp is rejected", hsOnly, mint(HS256, testSecret, "", with(now, map[string]any{"exp": nil})), unauth, "missing exp"},
		{"null exp is rejected", hsOnly, mint(HS256, testSecret, "", with(now, map[string]any{"exp": json.RawMessage("null")})), unauth, "missing exp"},
		{"negative exp is rejected", hsOnly, mint(HS256, testSecret, "", with(now, map[string]any{"exp": -1})), unauth, "malformed claims"},
		{"iat in the future beyond the leeway is rejected", hsOnly, mint(HS256, testSecret, "", with(now, map[string]any{"iat": now.Add(31 * time.Second).Unix()})), unauth, "issued in the future"},
		{"nbf in the future beyond the leeway is rejected", hsOnly, mint(HS256, testSecret, "", with(now, map[string]any{"nbf": now.Add(time.Minute).Unix()})), unauth, "not valid yet"},

		// Issuer and audience.
		{"aud anon is rejected", hsOnly, mint(HS256, testSecret, "", with(now, map[string]any{"aud": "anon"})), unauth, "wrong audience"},
		{"aud array without authenticated is rejected", hsOnly, mint(HS256, testSecret, "", with(now, map[string]any{"aud": []string{"a", "b"}})), unauth, "wrong audience"},
		{"missing aud is rejected", hsOnly, mint(HS256, testSecret, "", with(now, map[string]any{"aud": nil})), unauth, "wrong audience"},
		{"another project's issuer is rejected", hsOnly, mint(HS256, testSecret, "", with(now, map[string]any{"iss": "https://otherproject.supabase.co/auth/v1"})), unauth, "wrong issuer"},
		{"missing iss is rejected", hsOnly, mint(HS256, testSecret, "", with(now, map[string]any{"iss": nil})), unauth, "wrong issuer"},

		// Role and subject (VerifyUser).
		{"service_role is forbidden on a user route", hsOnly, mint(HS256, testSecret, "", with(now, map[string]any{"role": "service_role"})), forbidden, "service_role"},
		{"anon role is rejected on a user route", hsOnly, mint(HS256, testSecret, "", with(now, map[string]any{"role": "anon"})), unauth, "role is not authenticated"},
		{"missing role is rejected on a user route", hsOnly, mint(HS256, testSecret, "", with(now, map[string]any{"role": nil})), unauth, "role is not authenticated"},
		{"sub that is not a UUID is rejected", hsOnly, mint(HS256, testSecret, "", with(now, map[string]any{"sub": "user-42"})), unauth, "sub is not a user id"},
		{"nil UUID sub is rejected", hsOnly, mint(HS256, testSecret, "", with(now, map[string]any{"sub": "00000000-0000-0000-0000-000000000000"})), unauth, "sub is not a user id"},
		{"missing sub is rejected on a user route", hsOnly, mint(HS256, testSecret, "", with(now, map[string]any{"sub": nil})), unauth, "missing sub"},
		{"an anonymous sign-in is rejected unless allowed", hsOnly, mint(HS256, testSecret, "", with(now, map[string]any{"is_anonymous": true})), unauth, "anonymous sign-ins are not allowed"},
		{"an anonymous ES256 sign-in is rejected unless allowed", jwksOnly, mint(ES256, k.ec, "ec-1", with(now, map[string]any{"is_anonymous": true})), unauth, "anonymous sign-ins are not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.v.VerifyUser(context.Background(), tt.token)
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				if c.Sub.String() != testSub || c.Role != "authenticated" {
					t.Fatalf("claims sub %v role %q", c.Sub, c.Role)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if got := polybot.ErrorCode(err); got != tt.wantCode {
				t.Fatalf("code %q, want %q (%v)", got, tt.wantCode, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error %q does not say %q", err, tt.wantMsg)
			}
			for _, seg := range strings.Split(tt.token, ".") {
				if len(seg) >= 8 && strings.Contains(err.Error(), seg) {
					t.Fatalf("error %q contains token material", err)
				}
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestVerifierReturnsSupabaseClaims(t *testing.T) {
	clk := newFakeClock()
	now := clk.Now()
	v := newTestVerifier(t, VerifierConfig{HS256Secret: testSecret, Clock: clk.Now})
	c, err := v.VerifyUser(context.Background(), mint(HS256, testSecret, "", userClaims(now)))
	if err != nil {
		t.Fatal(err)
	}
	var app struct{ Provider string }
	if err := json.Unmarshal(c.AppMetadata, &app); err != nil {
		t.Fatal(err)
	}
	switch {
	case c.Sub.String() != testSub, c.Email != "alice@example.com", c.Role != "authenticated",
		c.SessionID != "0b0c1e1a-58a5-4a8e-8a43-0b3b5f0e8a11", c.AAL != "aal1",
		!c.Exp.Equal(now.Add(time.Hour)), !c.Iat.Equal(now), c.Issuer != testIssuer,
		len(c.Audience) != 1 || c.Audience[0] != "authenticated",
		app.Provider != "email", string(c.UserMetadata) != `{"name":"Alice"}`:
		t.Fatalf("claims %+v", c)
	}
}

func TestVerifierAcceptsAnonymousSignInsOnlyWhenTheOperatorAllowsThem(t *testing.T) {
	clk := newFakeClock()
	tok := mint(HS256, testSecret, "", with(clk.Now(), map[string]any{"is_anonymous": true, "email": ""}))
	for _, allow := range []bool{false, true} {
		v := newTestVerifier(t, VerifierConfig{HS256Secret: testSecret, Clock: clk.Now, AllowAnonymous: allow})
		c, err := v.VerifyUser(context.Background(), tok)
		switch {
		case !allow && polybot.ErrorCode(err) != polybot.EUNAUTHORIZED:
			t.Fatalf("not allowed: err %v, want EUNAUTHORIZED", err)
		case allow && err != nil:
			t.Fatalf("allowed: %v", err)
		case allow && !c.IsAnonymous:
			t.Fatal("allowed: claims do not say anonymous")
		}
	}
}

func TestVerifyLeavesRoleToTheCaller(t *testing.T) {
	clk := newFakeClock()
	v := newTestVerifier(t, VerifierConfig{HS256Secret: testSecret, Clock: clk.Now})
	c, err := v.Verify(context.Background(), mint(HS256, testSecret, "", with(clk.Now(), map[string]any{"role": "service_role", "sub": nil})))
	if err != nil {
		t.Fatal(err)
	}
	if c.Role != "service_role" || !c.Sub.IsZero() {
		t.Fatalf("claims %+v", c)
	}
}

func TestVerifierRefetchesJWKSOnRotationAtMostOncePerInterval(t *testing.T) {
	k := testKeys()
	clk := newFakeClock()
	srv := newJWKSServer(t, jwksDoc(ecJWK(&k.ec.PublicKey, "ec-1")))
	v := newTestVerifier(t, srv.config(clk))
	ctx := context.Background()

	type step struct {
		name     string
		advance  time.Duration
		serve    []byte // new JWKS document, if any
		kid      string
		key      *ecdsa.PrivateKey
		wantCode string
		fetches  int32
	}
	rotated := jwksDoc(ecJWK(&k.ec.PublicKey, "ec-1"), ecJWK(&k.ec2.PublicKey, "ec-2"))
	revoked := jwksDoc(ecJWK(&k.ec2.PublicKey, "ec-2"))
	steps := []step{
		{name: "first token fetches the JWKS", kid: "ec-1", key: k.ec, fetches: 1},
		{name: "a known kid needs no fetch", kid: "ec-1", key: k.ec, fetches: 1},
		{name: "a new kid within the interval is unknown and not fetched", serve: rotated, kid: "ec-2", key: k.ec2, wantCode: polybot.EUNAUTHORIZED, fetches: 1},
		{name: "a new kid after the interval triggers a refetch", advance: DefaultJWKSRefetch, kid: "ec-2", key: k.ec2, fetches: 2},
		{name: "an unknown kid right after a fetch is not fetched", kid: "ec-3", key: k.ec2, wantCode: polybot.EUNAUTHORIZED, fetches: 2},
		{name: "keys younger than the max age are used without a fetch", advance: 9 * time.Minute, serve: revoked, kid: "ec-1", key: k.ec, fetches: 2},
		{name: "a removed key is refused once the cache is refreshed", advance: time.Minute, kid: "ec-1", key: k.ec, wantCode: polybot.EUNAUTHORIZED, fetches: 3},
		{name: "the rotated-in key stays valid", kid: "ec-2", key: k.ec2, fetches: 3},
	}
	for _, s := range steps {
		clk.Advance(s.advance)
		if s.serve != nil {
			srv.serve(http.StatusOK, s.serve)
		}
		_, err := v.VerifyUser(ctx, mint(ES256, s.key, s.kid, userClaims(clk.Now())))
		if got := polybot.ErrorCode(err); got != s.wantCode {
			t.Fatalf("%s: code %q, want %q (%v)", s.name, got, s.wantCode, err)
		}
		if got := srv.fetches.Load(); got != s.fetches {
			t.Fatalf("%s: %d fetches, want %d", s.name, got, s.fetches)
		}
	}
}

func TestVerifierKeepsCachedKeysWhenTheJWKSURLFails(t *testing.T) {
	k := testKeys()
	clk := newFakeClock()
	srv := newJWKSServer(t, jwksDoc(ecJWK(&k.ec.PublicKey, "ec-1")))
	v := newTestVerifier(t, srv.config(clk))
	ctx := context.Background()
	if err := v.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	srv.serve(http.StatusInternalServerError, []byte("oops"))
	clk.Advance(time.Hour)
	if _, err := v.VerifyUser(ctx, mint(ES256, k.ec, "ec-1", userClaims(clk.Now()))); err != nil {
		t.Fatalf("cached key refused after a failed refresh: %v", err)
	}
	if srv.fetches.Load() != 2 {
		t.Fatalf("%d fetches, want 2 (Refresh, then one due refresh)", srv.fetches.Load())
	}
	_, err := v.VerifyUser(ctx, mint(ES256, k.ec, "ec-2", userClaims(clk.Now())))
	if polybot.ErrorCode(err) != polybot.EUNAVAILABLE {
		t.Fatalf("unknown kid while the JWKS is failing: %v, want EUNAVAILABLE", err)
	}
}

func TestVerifierFailsClosedWhenTheJWKSCannotBeFetched(t *testing.T) {
	k := testKeys()
	clk := newFakeClock()
	for name, serve := range map[string]func(*jwksServer){
		"server error":  func(s *jwksServer) { s.serve(http.StatusServiceUnavailable, nil) },
		"not JSON":      func(s *jwksServer) { s.serve(http.StatusOK, []byte("<html>")) },
		"no keys array": func(s *jwksServer) { s.serve(http.StatusOK, []byte(`{"kids":[]}`)) },
		"malformed key": func(s *jwksServer) {
			s.serve(http.StatusOK, []byte(`{"keys":[{"kty":"EC","crv":"P-256","kid":"ec-1","x":"AA","y":"AA"}]}`))
		},
		"too large": func(s *jwksServer) {
			s.serve(http.StatusOK, []byte(`{"keys":[],"pad":"`+strings.Repeat("x", maxJWKSBytes)+`"}`))
		},
		"server is gone": func(s *jwksServer) { s.Close() },
	} {
		t.Run(name, func(t *testing.T) {
			srv := newJWKSServer(t, nil)
			serve(srv)
			v := newTestVerifier(t, srv.config(clk))
			tok := mint(ES256, k.ec, "ec-1", userClaims(clk.Now()))
			_, err := v.VerifyUser(context.Background(), tok)
			if polybot.ErrorCode(err) != polybot.EUNAVAILABLE {
				t.Fatalf("err %v, want EUNAVAILABLE", err)
			}
			if polybot.ErrorMessage(err) != "cannot fetch the token signing keys" {
				t.Fatalf("user-facing message %q", polybot.ErrorMessage(err))
			}
			if err := v.Refresh(context.Background()); polybot.ErrorCode(err) != polybot.EUNAVAILABLE {
				t.Fatalf("Refresh: %v, want EUNAVAILABLE", err)
			}
		})
	}
}

func TestNewVerifierRejectsUnsafeConfig(t *testing.T) {
	k := testKeys()
	small := must(rsa.GenerateKey(rand.Reader, 1024))
	good := jwksDoc(ecJWK(&k.ec.PublicKey, "ec-1"))
	tests := []struct {
		name    string
		cfg     VerifierConfig
		wantMsg string
	}{
		{"no issuer", VerifierConfig{Issuer: "-", HS256Secret: testSecret}, "needs an issuer"},
		{"no key source", VerifierConfig{}, "needs an HS256 secret"},
		{"short HS256 secret", VerifierConfig{HS256Secret: []byte("short")}, "at least 32 bytes"},
		{"HS256 allowed without a secret", VerifierConfig{JWKS: good, Algorithms: []string{HS256}}, "no HS256 secret"},
		{"ES256 allowed without a JWKS", VerifierConfig{HS256Secret: testSecret, Algorithms: []string{ES256}}, "no JWKS"},
		{"alg none allowed", VerifierConfig{HS256Secret: testSecret, Algorithms: []string{"none"}}, "unsupported JWT algorithm"},
		{"plain http JWKS URL", VerifierConfig{JWKSURL: "http://abc.supabase.co/auth/v1/.well-known/jwks.json"}, "must use https"},
		{"relative JWKS URL", VerifierConfig{JWKSURL: "/jwks.json"}, "absolute URL"},
		{"static JWKS that is not JSON", VerifierConfig{JWKS: []byte("{")}, "static JWKS"},
		{"static JWKS with a point off the curve", VerifierConfig{JWKS: []byte(`{"keys":[{"kty":"EC","crv":"P-256","kid":"a","x":"` + b64(make([]byte, 32)) + `","y":"` + b64(make([]byte, 32)) + `"}]}`)}, "EC key"},
		{"static JWKS with a 1024-bit RSA key", VerifierConfig{JWKS: jwksDoc(rsaJWK(&small.PublicKey, "r"))}, "shorter than 2048 bits"},
		{"static JWKS with an EC key claiming RS256", VerifierConfig{JWKS: jwksDoc(func() map[string]any {
			j := ecJWK(&k.ec.PublicKey, "e")
			j["alg"] = "RS256"
			return j
		}())}, "alg"},
		{"static JWKS with a duplicate kid", VerifierConfig{JWKS: jwksDoc(ecJWK(&k.ec.PublicKey, "a"), ecJWK(&k.ec2.PublicKey, "a"))}, "two keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			switch cfg.Issuer {
			case "":
				cfg.Issuer = testIssuer
			case "-":
				cfg.Issuer = ""
			}
			_, err := NewVerifier(cfg)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error %q does not say %q", err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), string(testSecret)) {
				t.Fatal("error contains the secret")
			}
		})
	}
}

func TestNewVerifierAcceptsLoopbackHTTPJWKSURL(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:54321/auth/v1/.well-known/jwks.json", "http://localhost:54321/x", "http://[::1]:54321/x"} {
		if _, err := NewVerifier(VerifierConfig{Issuer: testIssuer, JWKSURL: u}); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
}

func TestParseJWKSSkipsKeysItCannotUseForSignatures(t *testing.T) {
	k := testKeys()
	enc := ecJWK(&k.ec2.PublicKey, "enc")
	enc["use"] = "enc"
	wrap := ecJWK(&k.ec2.PublicKey, "wrap")
	wrap["key_ops"] = []string{"wrapKey"}
	noKid := ecJWK(&k.ec2.PublicKey, "")
	keys, err := parseJWKS(jwksDoc(
		ecJWK(&k.ec.PublicKey, "ec-1"),
		map[string]any{"kty": "oct", "kid": "oct", "k": b64(testSecret)},
		map[string]any{"kty": "EC", "crv": "P-384", "kid": "p384", "x": "AA", "y": "AA"},
		map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": "AA"},
		enc, wrap, noKid,
	))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].Marshal().KID != "ec-1" {
		t.Fatalf("kept %d keys, want only ec-1", len(keys))
	}
}

// BenchmarkVerify measures one verification per algorithm (keys cached):
//
//	go test ./internal/auth -run '^$' -bench Verify
func BenchmarkVerify(b *testing.B) {
	k := testKeys()
	clk := newFakeClock()
	jwks := jwksDoc(ecJWK(&k.ec.PublicKey, "ec-1"), rsaJWK(&k.rsa.PublicKey, "rsa-1"))
	v, err := NewVerifier(VerifierConfig{Issuer: testIssuer, HS256Secret: testSecret, JWKS: jwks, Clock: clk.Now})
	if err != nil {
		b.Fatal(err)
	}
	claims := userClaims(clk.Now())
	for _, bc := range []struct {
		alg   string
		token string
	}{
		{HS256, mint(HS256, testSecret, "", claims)},
		{ES256, mint(ES256, k.ec, "ec-1", claims)},
		{RS256, mint(RS256, k.rsa, "rsa-1", claims)},
	} {
		b.Run(bc.alg, func(b *testing.B) {
			for b.Loop() {
				if _, err := v.VerifyUser(context.Background(), bc.token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
