package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/polybot/polybot"
)

// keySource holds the JWKS keys: a static set, the set fetched from a URL, or
// both, behind one keyfunc.Keyfunc. Static keys are looked up first and never
// cause a fetch.
type keySource struct {
	static *jwkset.MemoryJWKSet
	remote *remoteJWKS // nil without a URL
	kf     keyfunc.Keyfunc
}

func newKeySource(cfg VerifierConfig, now polybot.Clock) (*keySource, error) {
	ks := &keySource{static: jwkset.NewMemoryStorage()}
	opts := jwkset.HTTPClientOptions{Given: ks.static, HTTPURLs: map[string]jwkset.Storage{}}
	if len(cfg.JWKS) > 0 {
		keys, err := parseJWKS(cfg.JWKS)
		if err != nil {
			return nil, fmt.Errorf("auth: static %w", err)
		}
		if err := ks.static.KeyReplaceAll(context.Background(), keys); err != nil {
			return nil, err
		}
	}
	if cfg.JWKSURL != "" {
		if err := checkJWKSURL(cfg.JWKSURL); err != nil {
			return nil, err
		}
		ks.remote = newRemoteJWKS(cfg, now)
		opts.HTTPURLs[cfg.JWKSURL] = ks.remote.live
	}
	// No RefreshUnknownKID: when to fetch is remoteJWKS's decision, on the
	// injected clock.
	storage, err := jwkset.NewHTTPClient(opts)
	if err != nil {
		return nil, fmt.Errorf("auth: JWKS: %w", err)
	}
	if ks.kf, err = keyfunc.New(keyfunc.Options{Storage: storage, UseWhitelist: []jwkset.USE{jwkset.UseSig, ""}}); err != nil {
		return nil, fmt.Errorf("auth: JWKS: %w", err)
	}
	return ks, nil
}

// key returns the public key t's kid names, fetching the JWKS URL first when
// the policy says so, and checks that its type fits t's algorithm.
func (ks *keySource) key(ctx context.Context, t *jwt.Token, kid string) (any, error) {
	if kid == "" {
		return nil, invalid("missing key id")
	}
	_, err := ks.static.KeyRead(ctx, kid)
	if err != nil && ks.remote != nil {
		ks.remote.ensure(ctx, kid)
	}
	k, err := ks.kf.KeyfuncCtx(ctx)(t)
	switch {
	case errors.Is(err, jwkset.ErrKeyNotFound):
		if ks.remote != nil {
			if ferr := ks.remote.lastErr(); ferr != nil {
				return nil, &polybot.Error{Code: polybot.EUNAVAILABLE, Message: "cannot fetch the token signing keys", Err: ferr}
			}
		}
		return nil, invalid("unknown signing key")
	case err != nil: // the key's alg or use does not fit
		return nil, invalid("signing key does not match the algorithm")
	}
	switch pub := k.(type) {
	case *ecdsa.PublicKey:
		if t.Method.Alg() == ES256 && pub.Curve == elliptic.P256() {
			return pub, nil
		}
	case *rsa.PublicKey:
		if t.Method.Alg() == RS256 {
			return pub, nil
		}
	}
	return nil, invalid("signing key does not match the algorithm")
}

// remoteJWKS is the cached copy of the JWKS at a URL and the policy for
// fetching it: at most once per refetch interval; when a token names an
// unknown kid or the copy is older than maxAge; a failed fetch keeps the
// keys there were.
type remoteJWKS struct {
	url     string
	client  *http.Client
	refetch time.Duration
	maxAge  time.Duration
	now     polybot.Clock
	live    *jwkset.MemoryJWKSet

	mu        sync.Mutex
	fetched   bool
	fetchedAt time.Time // last successful fetch
	triedAt   time.Time // last attempt, successful or not
	err       error     // of the last attempt
}

func newRemoteJWKS(cfg VerifierConfig, now polybot.Clock) *remoteJWKS {
	r := &remoteJWKS{url: cfg.JWKSURL, client: cfg.HTTPClient, refetch: cfg.JWKSRefetch, maxAge: cfg.JWKSMaxAge, now: now, live: jwkset.NewMemoryStorage()}
	if r.client == nil {
		r.client = &http.Client{Timeout: defaultJWKSHTTPTimeout}
	}
	if r.refetch <= 0 {
		r.refetch = DefaultJWKSRefetch
	}
	if r.maxAge <= 0 {
		r.maxAge = DefaultJWKSMaxAge
	}
	return r
}

// ensure fetches the JWKS if kid is missing or the copy is stale, and a
// fetch is due. A request that finds another fetching goes on with what is
// cached rather than waiting.
func (r *remoteJWKS) ensure(ctx context.Context, kid string) {
	_, err := r.live.KeyRead(ctx, kid)
	found := err == nil
	now := r.now()
	r.mu.Lock()
	fresh := r.fetched && now.Sub(r.fetchedAt) < r.maxAge
	due := r.triedAt.IsZero() || now.Sub(r.triedAt) >= r.refetch
	if (found && fresh) || !due {
		r.mu.Unlock()
		return
	}
	r.triedAt = now // claim the fetch
	r.mu.Unlock()
	_ = r.fetch(ctx)
}

func (r *remoteJWKS) lastErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

func (r *remoteJWKS) fetch(ctx context.Context) error {
	// A request that gives up must not cut short a fetch every later
	// request relies on; the timeout bounds it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), defaultJWKSHTTPTimeout)
	defer cancel()
	keys, err := fetchJWKS(ctx, r.client, r.url)
	if err == nil {
		err = r.live.KeyReplaceAll(ctx, keys)
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.triedAt, r.err = now, err
	if err != nil {
		return &polybot.Error{Code: polybot.EUNAVAILABLE, Message: "cannot fetch the token signing keys", Err: err}
	}
	r.fetched, r.fetchedAt = true, now
	return nil
}

// minRSABits is the smallest RSA modulus accepted from a JWKS.
const minRSABits = 2048

// parseJWKS reads a JWKS document with jwkset. Keys that cannot verify ES256
// or RS256 signatures (other curves, symmetric keys, encryption keys, keys
// without a kid) are skipped; a key that claims to be EC P-256 or RSA but is
// malformed or weak fails the whole document, since a half-read set hides
// mistakes.
func parseJWKS(doc []byte) ([]jwkset.JWK, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, fmt.Errorf("JWKS is not a JSON object with a keys array: %w", err)
	}
	if set.Keys == nil {
		return nil, errors.New(`JWKS has no "keys" array`)
	}
	var keys []jwkset.JWK
	for i, raw := range set.Keys {
		var m jwkset.JWKMarshal
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("JWKS key %d: %w", i, err)
		}
		if m.KID == "" || (m.USE != "" && m.USE != jwkset.UseSig) ||
			(m.KEYOPS != nil && !slices.Contains(m.KEYOPS, jwkset.KeyOpsVerify)) {
			continue
		}
		var want jwkset.ALG
		switch {
		case m.KTY == jwkset.KtyEC && m.CRV == jwkset.CrvP256:
			want = jwkset.AlgES256
		case m.KTY == jwkset.KtyRSA:
			want = jwkset.AlgRS256
		default:
			continue
		}
		if m.ALG != "" && m.ALG != want {
			return nil, fmt.Errorf("JWKS key %q: %s key with alg %q", m.KID, m.KTY, m.ALG)
		}
		m.D, m.P, m.Q, m.DP, m.DQ, m.QI, m.K, m.OTH = "", "", "", "", "", "", "", nil // public parts only
		k, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		if err != nil {
			return nil, fmt.Errorf("JWKS key %q: %s key: %w", m.KID, m.KTY, err)
		}
		switch pub := k.Key().(type) {
		case *ecdsa.PublicKey:
			if _, err := pub.ECDH(); err != nil {
				return nil, fmt.Errorf("JWKS key %q: EC key: %w", m.KID, err)
			}
		case *rsa.PublicKey:
			if pub.N.BitLen() < minRSABits {
				return nil, fmt.Errorf("JWKS key %q: RSA key is shorter than %d bits", m.KID, minRSABits)
			}
			if pub.E < 3 || pub.E%2 == 0 {
				return nil, fmt.Errorf("JWKS key %q: RSA key has an invalid exponent", m.KID)
			}
		default:
			return nil, fmt.Errorf("JWKS key %q: not a public key", m.KID)
		}
		if slices.ContainsFunc(keys, func(o jwkset.JWK) bool { return o.Marshal().KID == m.KID }) {
			return nil, fmt.Errorf("JWKS has two keys with kid %q", m.KID)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// maxJWKSBytes bounds a fetched JWKS document.
const maxJWKSBytes = 1 << 20

// fetchJWKS gets and parses the document at url.
func fetchJWKS(ctx context.Context, client *http.Client, url string) ([]jwkset.JWK, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET JWKS: status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read JWKS: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("JWKS is larger than %d bytes", maxJWKSBytes)
	}
	return parseJWKS(body)
}

var b64url = base64.RawURLEncoding.Strict()
