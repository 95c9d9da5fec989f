package secrets

import (
	"container/list"
	"context"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/polybot/polybot"
)

// MaxSecretSize is the largest plaintext a secret field may hold.
const MaxSecretSize = 16 << 10

// DefaultCacheSize is how many unwrapped tenant keys a Box keeps by default.
const DefaultCacheSize = 4096

// sealedPrefix is the version tag of the sealed text form v1.<base64url(nonce||ciphertext)>.
const sealedPrefix = "v1."

// ErrDecrypt is wrapped by the errors of a ciphertext or wrapped key that does
// not authenticate: it was modified, or it was moved to another tenant,
// platform, field or mode.
var ErrDecrypt = errors.New("message authentication failed")

// Box seals and opens tenants' secret fields. Each tenant has one data key,
// created on first use and stored wrapped by the KeyWrapper; unwrapped keys
// are cached in memory (bounded). Every method takes the caller's open
// transaction, so a seal or an open and its audit row commit together.
type Box struct {
	w     KeyWrapper
	cache *keyCache
}

// NewBox returns a Box over w that caches up to cacheSize unwrapped tenant
// keys (DefaultCacheSize if cacheSize <= 0).
func NewBox(w KeyWrapper, cacheSize int) *Box {
	if cacheSize <= 0 {
		cacheSize = DefaultCacheSize
	}
	return &Box{w: w, cache: newKeyCache(cacheSize)}
}

// Seal encrypts one field of the tenant's secret for (platform, paper),
// creating the tenant's data key if it has none. The result is text:
// "v1." and the base64url of a random 96-bit nonce and the AES-256-GCM
// ciphertext, whose associated data binds the version, the tenant, platform,
// mode and field.
func (b *Box) Seal(ctx context.Context, tx polybot.TenantTx, platform polybot.Platform, paper bool, field string, plaintext []byte) (string, error) {
	if err := checkField(platform, field, plaintext); err != nil {
		return "", err
	}
	tk, err := b.tenantKey(ctx, tx, true)
	if err != nil {
		return "", err
	}
	return tk.seal(tx.Tenant(), platform, paper, field, plaintext), nil
}

// Open decrypts one field of s, which must be the transaction's tenant's, and
// appends an audit row (polybot.AuditSecretDecrypt, actor "system", target
// "<platform>/<paper|live>/<field>", details {"purpose": ...}) to tx. The row
// commits with tx: open secrets in a transaction that commits.
func (b *Box) Open(ctx context.Context, tx polybot.TenantTx, s *polybot.Secret, field string, purpose string) ([]byte, error) {
	if err := checkOpen(tx, s, purpose); err != nil {
		return nil, err
	}
	sealed, ok := s.Sealed[field]
	if !ok || sealed == "" {
		return nil, polybot.NotFound("secret field " + truncate(field, 32))
	}
	tk, err := b.tenantKey(ctx, tx, false)
	if err != nil {
		return nil, err
	}
	pt, err := tk.open(tx.Tenant(), s.Platform, s.Paper, field, sealed)
	if err != nil {
		return nil, err
	}
	if err := appendDecrypt(tx, target(s.Platform, s.Paper, field), []string{field}, purpose); err != nil {
		clear(pt)
		return nil, err
	}
	return pt, nil
}

// OpenAll decrypts every field s holds and appends one audit row for them
// (target "<platform>/<paper|live>", details {"fields": [...], "purpose": ...}).
func (b *Box) OpenAll(ctx context.Context, tx polybot.TenantTx, s *polybot.Secret, purpose string) (Plaintext, error) {
	if err := checkOpen(tx, s, purpose); err != nil {
		return nil, err
	}
	tk, err := b.tenantKey(ctx, tx, false)
	if err != nil {
		return nil, err
	}
	out := Plaintext{}
	var fields []string
	for _, f := range polybot.SecretFields {
		sealed := s.Sealed[f]
		if sealed == "" {
			continue
		}
		pt, err := tk.open(tx.Tenant(), s.Platform, s.Paper, f, sealed)
		if err != nil {
			out.Wipe()
			return nil, err
		}
		out[f] = pt
		fields = append(fields, f)
	}
	for f := range s.Sealed {
		if !knownField(f) {
			out.Wipe()
			return nil, polybot.Internal(fmt.Errorf("secrets: stored secret has unknown field %q", truncate(f, 32)))
		}
	}
	if len(fields) == 0 {
		return nil, polybot.NotFound("secret fields")
	}
	if err := appendDecrypt(tx, target(s.Platform, s.Paper, ""), fields, purpose); err != nil {
		out.Wipe()
		return nil, err
	}
	return out, nil
}

// Fingerprint returns a short, non-reversible mark of a field's value that
// users see to tell keys apart: the first 12 hex digits of an HMAC-SHA256
// keyed by a key derived from the tenant's data key. It is the same for the
// same value in every platform and mode of one tenant, differs across
// tenants, and survives master-key rotation.
func (b *Box) Fingerprint(ctx context.Context, tx polybot.TenantTx, field string, value []byte) (string, error) {
	tk, err := b.tenantKey(ctx, tx, true)
	if err != nil {
		return "", err
	}
	return tk.fingerprint(field, value), nil
}

// NewSecret seals plaintext fields (field name → value) into a new active
// secret of the tenant for (platform, paper), with its fingerprint (of the
// api_key, else the private_key, else the first field given) and validation
// status pending. The caller adds AdditionalConfig and stores it with
// tx.PutSecret. Bad input is an EINVALID error naming each bad field.
func (b *Box) NewSecret(ctx context.Context, tx polybot.TenantTx, platform polybot.Platform, paper bool, fields map[string]string) (*polybot.Secret, error) {
	v := polybot.Validation{}
	if _, err := polybot.ParsePlatform(string(platform)); err != nil {
		v.Add("platform", polybot.ErrorFields(err)["platform"])
	}
	for f, val := range fields {
		switch {
		case !knownField(f):
			v.Add(truncate(f, 32), "is not a secret field (want one of "+strings.Join(polybot.SecretFields, ", ")+")")
		case strings.TrimSpace(val) == "":
			v.Add(f, "must not be empty")
		case len(val) > MaxSecretSize:
			v.Add(f, "is longer than 16 KiB")
		}
	}
	if len(fields) == 0 {
		v.Add("fields", "at least one of "+strings.Join(polybot.SecretFields, ", ")+" is required")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	tk, err := b.tenantKey(ctx, tx, true)
	if err != nil {
		return nil, err
	}
	s := &polybot.Secret{UserID: tx.Tenant(), Platform: platform, Paper: paper, Active: true,
		Sealed: map[string]string{}, ValidationStatus: polybot.ValidationPending}
	fpField := ""
	for _, f := range []string{polybot.FieldAPIKey, polybot.FieldPrivateKey, polybot.FieldAPISecret, polybot.FieldPassphrase} {
		if _, ok := fields[f]; ok && fpField == "" {
			fpField = f
		}
	}
	for _, f := range polybot.SecretFields {
		val, ok := fields[f]
		if !ok {
			continue
		}
		pt := []byte(val)
		s.Sealed[f] = tk.seal(tx.Tenant(), platform, paper, f, pt)
		if f == fpField {
			s.Fingerprint = tk.fingerprint(f, pt)
		}
		clear(pt)
	}
	return s, nil
}

// SealNewsHook seals a webhook's signing secret under the tenant's data key
// (created on first use), bound to the tenant and the hook's id: the
// sealed text opens only for that hook of that tenant.
func (b *Box) SealNewsHook(ctx context.Context, tx polybot.TenantTx, hookID string, secret []byte) (string, error) {
	switch {
	case hookID == "" || len(hookID) > 64:
		return "", polybot.FieldError("id", "must be 1-64 characters")
	case len(secret) == 0 || len(secret) > MaxSecretSize:
		return "", polybot.FieldError("secret", "must be 1 byte to 16 KiB")
	}
	tk, err := b.tenantKey(ctx, tx, true)
	if err != nil {
		return "", err
	}
	return tk.sealAAD(hookAAD(tx.Tenant(), hookID), secret), nil
}

// OpenNewsHook opens h's signing secret to check a delivery's signature.
// h must be the transaction's tenant's. Unlike an exchange secret's, the
// open is not audited: it happens on every delivery, before the sender is
// known to hold the secret, and the secret only authenticates headlines
// sent to PolyBot (it acts on no venue). The caller clears the result
// when done.
func (b *Box) OpenNewsHook(ctx context.Context, tx polybot.TenantTx, h *polybot.NewsHook) ([]byte, error) {
	switch {
	case h == nil:
		return nil, polybot.Internal(errors.New("secrets: open of a nil hook"))
	case !h.UserID.IsZero() && h.UserID != tx.Tenant():
		return nil, polybot.Internal(fmt.Errorf("secrets: hook of %s opened in a transaction of %s", h.UserID, tx.Tenant()))
	}
	tk, err := b.tenantKey(ctx, tx, false)
	if err != nil {
		return nil, err
	}
	return tk.openAAD("news hook "+truncate(h.ID, 64), hookAAD(tx.Tenant(), h.ID), h.Sealed)
}

// SealNotify seals one secret field of a notification destination (a bot
// token, a webhook URL, a signing secret) under the tenant's data key
// (created on first use), bound to the tenant, the destination and the
// field.
func (b *Box) SealNotify(ctx context.Context, tx polybot.TenantTx, destID, field string, secret []byte) (string, error) {
	switch {
	case destID == "" || len(destID) > 64:
		return "", polybot.FieldError("id", "must be 1-64 characters")
	case len(secret) == 0 || len(secret) > 4096:
		return "", polybot.FieldError(field, "must be 1 byte to 4 KiB")
	}
	tk, err := b.tenantKey(ctx, tx, true)
	if err != nil {
		return "", err
	}
	return tk.sealAAD(notifyAAD(tx.Tenant(), destID, field), secret), nil
}

// OpenNotify opens one sealed field of d, which must be the transaction's
// tenant's. Like a news hook's, the open is not audited: it happens on
// every delivery, and the secret reaches only the user's own destination.
// The caller clears the result when done.
func (b *Box) OpenNotify(ctx context.Context, tx polybot.TenantTx, d *polybot.NotifyDestination, field string) ([]byte, error) {
	switch {
	case d == nil:
		return nil, polybot.Internal(errors.New("secrets: open of a nil destination"))
	case !d.UserID.IsZero() && d.UserID != tx.Tenant():
		return nil, polybot.Internal(fmt.Errorf("secrets: destination of %s opened in a transaction of %s", d.UserID, tx.Tenant()))
	case d.Sealed[field] == "":
		return nil, polybot.Internal(fmt.Errorf("secrets: destination %s has no %s", truncate(d.ID, 64), field))
	}
	tk, err := b.tenantKey(ctx, tx, false)
	if err != nil {
		return nil, err
	}
	return tk.openAAD("destination "+truncate(d.ID, 64), notifyAAD(tx.Tenant(), d.ID, field), d.Sealed[field])
}

// ClearCache forgets every unwrapped tenant key.
func (b *Box) ClearCache() { b.cache.clear() }

// String, GoString, Format and LogValue describe the Box without keys.
func (b Box) String() string {
	return fmt.Sprintf("secrets.Box{wrapper: %s, cached: %d, material: %s}", b.w.ID(), b.cache.len(), redacted)
}

func (b Box) GoString() string { return b.String() }

func (b Box) Format(f fmt.State, verb rune) { _, _ = fmt.Fprint(f, b.String()) }

func (b Box) LogValue() slog.Value {
	return slog.GroupValue(slog.String("master_key", b.w.ID()), slog.Int("cached", b.cache.len()))
}

// tenantKey returns the tenant's unwrapped key, creating the data key on
// first use when create is set.
func (b *Box) tenantKey(ctx context.Context, tx polybot.TenantTx, create bool) (*tenantKey, error) {
	tenant := tx.Tenant()
	dk, err := tx.DataKey()
	if polybot.ErrorCode(err) == polybot.ENOTFOUND && create {
		return b.createDataKey(ctx, tx)
	}
	if polybot.ErrorCode(err) == polybot.ENOTFOUND {
		return nil, polybot.Internal(fmt.Errorf("secrets: tenant %s has sealed secrets but no data key", tenant))
	}
	if err != nil {
		return nil, err
	}
	return b.unwrap(ctx, tenant, dk)
}

func (b *Box) createDataKey(ctx context.Context, tx polybot.TenantTx) (*tenantKey, error) {
	tenant := tx.Tenant()
	dek := randomBytes(dekSize)
	defer clear(dek)
	keyID, wrapped, err := b.w.Wrap(ctx, dek, tenantAAD(tenant))
	if err != nil {
		return nil, err
	}
	now := tx.Now()
	err = tx.CreateDataKey(&polybot.DataKey{UserID: tenant, MasterKeyID: keyID, Wrapped: wrapped, CreatedAt: now, RotatedAt: now})
	if polybot.ErrorCode(err) == polybot.ECONFLICT {
		dk, err := tx.DataKey() // created concurrently: use that one
		if err != nil {
			return nil, err
		}
		return b.unwrap(ctx, tenant, dk)
	}
	if err != nil {
		return nil, err
	}
	tk, err := deriveTenantKey(dek)
	if err != nil {
		return nil, err
	}
	b.cache.put(cacheKey(tenant, keyID, wrapped), tk)
	return tk, nil
}

func (b *Box) unwrap(ctx context.Context, tenant polybot.ID, dk *polybot.DataKey) (*tenantKey, error) {
	if dk.UserID != tenant {
		return nil, polybot.Internal(fmt.Errorf("secrets: data key of %s returned for tenant %s", dk.UserID, tenant))
	}
	ck := cacheKey(tenant, dk.MasterKeyID, dk.Wrapped)
	if tk, ok := b.cache.get(ck); ok {
		return tk, nil
	}
	dek, err := b.w.Unwrap(ctx, dk.MasterKeyID, dk.Wrapped, tenantAAD(tenant))
	if err != nil {
		return nil, err
	}
	defer clear(dek)
	tk, err := deriveTenantKey(dek)
	if err != nil {
		return nil, err
	}
	b.cache.put(ck, tk)
	return tk, nil
}

// tenantKey is what a tenant's data key yields: an AEAD for secret fields and
// an HMAC key for fingerprints. The data key itself is not kept.
type tenantKey struct {
	aead cipher.AEAD
	fp   *[32]byte
}

func deriveTenantKey(dek []byte) (*tenantKey, error) {
	if len(dek) != dekSize {
		return nil, polybot.Internal(errors.New("secrets: data key has the wrong size"))
	}
	sk, err := hkdf.Key(sha256.New, dek, nil, "polybot secrets v1 seal", 32)
	if err != nil {
		return nil, polybot.Internal(errors.New("secrets: deriving the sealing key failed"))
	}
	fk, err := hkdf.Key(sha256.New, dek, nil, "polybot secrets v1 fingerprint", 32)
	if err != nil {
		return nil, polybot.Internal(errors.New("secrets: deriving the fingerprint key failed"))
	}
	tk := &tenantKey{aead: newAEAD(sk), fp: new([32]byte)}
	copy(tk.fp[:], fk)
	clear(sk)
	clear(fk)
	return tk, nil
}

func (tk tenantKey) String() string                { return "secrets.tenantKey{" + redacted + "}" }
func (tk tenantKey) GoString() string              { return tk.String() }
func (tk tenantKey) Format(f fmt.State, verb rune) { writeRedacted(f, "secrets.tenantKey") }

func (tk *tenantKey) seal(tenant polybot.ID, platform polybot.Platform, paper bool, field string, plaintext []byte) string {
	return tk.sealAAD(sealAAD(tenant, platform, paper, field), plaintext)
}

func (tk *tenantKey) sealAAD(aad, plaintext []byte) string {
	nonce := randomBytes(tk.aead.NonceSize())
	ct := tk.aead.Seal(nonce, nonce, plaintext, aad)
	return sealedPrefix + base64.RawURLEncoding.EncodeToString(ct)
}

func (tk *tenantKey) open(tenant polybot.ID, platform polybot.Platform, paper bool, field, sealed string) ([]byte, error) {
	return tk.openAAD(target(platform, paper, field), sealAAD(tenant, platform, paper, field), sealed)
}

// openAAD opens sealed, bound to aad; what names it in errors.
func (tk *tenantKey) openAAD(what string, aad []byte, sealed string) ([]byte, error) {
	body, ok := strings.CutPrefix(sealed, sealedPrefix)
	if !ok {
		return nil, polybot.Internal(fmt.Errorf("secrets: %s is not in a sealed format this version knows", what))
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	ns := tk.aead.NonceSize()
	if err != nil || len(raw) < ns+tk.aead.Overhead() {
		return nil, polybot.Internal(fmt.Errorf("secrets: %s is malformed", what))
	}
	pt, err := tk.aead.Open(nil, raw[:ns], raw[ns:], aad)
	if err != nil {
		return nil, polybot.Internal(fmt.Errorf("secrets: cannot open %s (modified, or sealed for another tenant, platform, field, mode or hook): %w", what, ErrDecrypt))
	}
	return pt, nil
}

func (tk *tenantKey) fingerprint(field string, value []byte) string {
	m := hmac.New(sha256.New, tk.fp[:])
	m.Write([]byte("polybot/fingerprint/v1\x00"))
	m.Write([]byte(field))
	m.Write([]byte{0})
	m.Write(value)
	return hex.EncodeToString(m.Sum(nil))[:12]
}

// sealAAD is the associated data of a sealed field: every component length
// prefixed, so no two distinct bindings share an encoding.
func sealAAD(tenant polybot.ID, platform polybot.Platform, paper bool, field string) []byte {
	mode := "live"
	if paper {
		mode = "paper"
	}
	b := []byte("polybot/secret")
	for _, s := range []string{"v1", tenant.String(), string(platform), mode, field} {
		b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
		b = append(b, s...)
	}
	return b
}

// hookAAD is the associated data of a webhook's sealed signing secret: a
// purpose of its own ("polybot/newshook", so an exchange secret's field
// never opens as a hook's, nor the other way), the tenant and the hook.
func hookAAD(tenant polybot.ID, hookID string) []byte {
	return labelledAAD("polybot/newshook", "v1", tenant.String(), hookID)
}

// notifyAAD is the associated data of a notification destination's sealed
// field: its own purpose, the tenant, the destination and the field.
func notifyAAD(tenant polybot.ID, destID, field string) []byte {
	return labelledAAD("polybot/notify", "v1", tenant.String(), destID, field)
}

// labelledAAD is label followed by each part, length-prefixed.
func labelledAAD(label string, parts ...string) []byte {
	b := []byte(label)
	for _, s := range parts {
		b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
		b = append(b, s...)
	}
	return b
}

func tenantAAD(tenant polybot.ID) []byte { return []byte(tenant.String()) }

func target(platform polybot.Platform, paper bool, field string) string {
	mode := "live"
	if paper {
		mode = "paper"
	}
	t := string(platform) + "/" + mode
	if field != "" {
		t += "/" + field
	}
	return t
}

func checkField(platform polybot.Platform, field string, plaintext []byte) error {
	if _, err := polybot.ParsePlatform(string(platform)); err != nil {
		return err
	}
	switch {
	case !knownField(field):
		return polybot.FieldError(truncate(field, 32), "is not a secret field (want one of "+strings.Join(polybot.SecretFields, ", ")+")")
	case len(plaintext) == 0:
		return polybot.FieldError(field, "must not be empty")
	case len(plaintext) > MaxSecretSize:
		return polybot.FieldError(field, "is longer than 16 KiB")
	}
	return nil
}

func checkOpen(tx polybot.TenantTx, s *polybot.Secret, purpose string) error {
	switch {
	case s == nil:
		return polybot.Internal(errors.New("secrets: open of a nil secret"))
	case !s.UserID.IsZero() && s.UserID != tx.Tenant():
		return polybot.Internal(fmt.Errorf("secrets: secret of %s opened in a transaction of %s", s.UserID, tx.Tenant()))
	case strings.TrimSpace(purpose) == "" || len(purpose) > 200:
		return polybot.Internal(errors.New("secrets: a decrypt needs a purpose of 1-200 characters for the audit log"))
	}
	return nil
}

func knownField(f string) bool {
	for _, k := range polybot.SecretFields {
		if f == k {
			return true
		}
	}
	return false
}

func appendDecrypt(tx polybot.TenantTx, target string, fields []string, purpose string) error {
	var details []byte
	var err error
	if len(fields) == 1 {
		details, err = json.Marshal(struct {
			Purpose string `json:"purpose"`
		}{purpose})
	} else {
		details, err = json.Marshal(struct {
			Fields  []string `json:"fields"`
			Purpose string   `json:"purpose"`
		}{fields, purpose})
	}
	if err != nil {
		return polybot.Internal(err)
	}
	return tx.AppendAudit(&polybot.AuditEntry{Actor: "system", Action: polybot.AuditSecretDecrypt,
		Target: target, Details: string(details), CreatedAt: tx.Now()})
}

// Plaintext holds opened secret fields by name. It prints, logs and marshals
// as redacted; Wipe zeroes it when the caller is done.
type Plaintext map[string][]byte

// Get returns a field's value as a string ("" if absent).
func (p Plaintext) Get(field string) string { return string(p[field]) }

// Wipe zeroes and drops every value.
func (p Plaintext) Wipe() {
	for f, v := range p {
		clear(v)
		delete(p, f)
	}
}

func (p Plaintext) String() string {
	names := make([]string, 0, len(p))
	for _, f := range polybot.SecretFields {
		if _, ok := p[f]; ok {
			names = append(names, f+": "+redacted)
		}
	}
	return "secrets.Plaintext{" + strings.Join(names, ", ") + "}"
}

func (p Plaintext) GoString() string              { return p.String() }
func (p Plaintext) Format(f fmt.State, verb rune) { _, _ = fmt.Fprint(f, p.String()) }
func (p Plaintext) LogValue() slog.Value          { return slog.StringValue(p.String()) }

// MarshalJSON writes the field names only, never the values.
func (p Plaintext) MarshalJSON() ([]byte, error) {
	m := make(map[string]string, len(p))
	for f := range p {
		m[f] = redacted
	}
	return json.Marshal(m)
}

// keyCache is a bounded LRU of unwrapped tenant keys, keyed by a digest of the
// tenant, the master key id and the wrapped key: a rewrapped key is a new
// entry, and a stale one ages out.
type keyCache struct {
	mu  sync.Mutex
	max int
	ll  *list.List
	m   map[[32]byte]*list.Element
}

type cacheEntry struct {
	k  [32]byte
	tk *tenantKey
}

func newKeyCache(max int) *keyCache {
	return &keyCache{max: max, ll: list.New(), m: map[[32]byte]*list.Element{}}
}

func cacheKey(tenant polybot.ID, keyID string, wrapped []byte) [32]byte {
	h := sha256.New()
	h.Write(tenant[:])
	h.Write(binary.BigEndian.AppendUint16(nil, uint16(len(keyID))))
	h.Write([]byte(keyID))
	h.Write(wrapped)
	var k [32]byte
	h.Sum(k[:0])
	return k
}

func (c *keyCache) get(k [32]byte) (*tenantKey, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok {
		return nil, false
	}
	c.ll.MoveToFront(e)
	return e.Value.(*cacheEntry).tk, true
}

func (c *keyCache) put(k [32]byte, tk *tenantKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[k]; ok {
		c.ll.MoveToFront(e)
		return
	}
	c.m[k] = c.ll.PushFront(&cacheEntry{k: k, tk: tk})
	for c.ll.Len() > c.max {
		old := c.ll.Back()
		c.ll.Remove(old)
		delete(c.m, old.Value.(*cacheEntry).k)
	}
}

func (c *keyCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ll.Init()
	clear(c.m)
}

func (c *keyCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
