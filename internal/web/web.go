// Package web is PolyBot's browser UI: the html/template views, the static
// assets (CSS, our own plain JavaScript, icons) embedded with embed.FS and
// served under content-hashed URLs, the Content-Security-Policy with its
// per-request nonce, and the view models and formatting the templates use
// (money is formatted from polybot.Decimal strings, never through floats).
//
// Every view is parsed when the UI is built, so a missing or broken template
// fails at start, not on a request. The pages' JavaScript talks only to the
// JSON API under /api/v1 (fetch with the X-CSRF-Token header, and the SSE
// stream); this package holds no data and makes no request of its own.
//
// It may import the root polybot package and the standard library only: the
// HTTP server (internal/server) gathers each page's data and calls Render.
package web

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed templates static
var embedded embed.FS

// Views are the pages a UI must have; New fails if any is missing.
var Views = []string{"login", "signup", "onboarding", "dashboard", "orders", "trades", "keys", "tokens", "config", "plan", "account", "admin", "news", "copy", "notifications", "error"}

// StaticPrefix is the URL path the assets are served under.
const StaticPrefix = "/static/"

// UI renders pages and serves the assets they use.
type UI struct {
	views  map[string]*template.Template
	assets map[string]*asset // by hashed file name
	urls   map[string]string // logical name (app.css) → URL
}

type asset struct {
	body  []byte
	ctype string
	etag  string
}

// New builds the UI from the embedded templates and assets.
func New() (*UI, error) { return NewFS(embedded) }

// NewFS builds the UI from fsys, which holds templates/ and static/. It
// parses every view and hashes every asset; any problem is an error.
func NewFS(fsys fs.FS) (*UI, error) {
	u := &UI{views: map[string]*template.Template{}, assets: map[string]*asset{}, urls: map[string]string{}}
	if err := u.loadAssets(fsys); err != nil {
		return nil, err
	}
	base := template.New("layout").Funcs(u.funcs())
	if _, err := base.ParseFS(fsys, "templates/layout.html"); err != nil {
		return nil, fmt.Errorf("web: layout: %w", err)
	}
	if parts, _ := fs.Glob(fsys, "templates/partials/*.html"); len(parts) > 0 {
		if _, err := base.ParseFS(fsys, parts...); err != nil {
			return nil, fmt.Errorf("web: partials: %w", err)
		}
	}
	for _, v := range Views {
		t, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if _, err := t.ParseFS(fsys, "templates/"+v+".html"); err != nil {
			return nil, fmt.Errorf("web: view %q: %w", v, err)
		}
		if t.Lookup("content") == nil {
			return nil, fmt.Errorf("web: view %q defines no \"content\" template", v)
		}
		u.views[v] = t
	}
	return u, nil
}

func (u *UI) loadAssets(fsys fs.FS) error {
	return fs.WalkDir(fsys, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("web: assets: %w", err)
		}
		if d.IsDir() {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "static/")
		ext := path.Ext(name)
		ctype, ok := contentTypes[ext]
		if !ok {
			return fmt.Errorf("web: asset %s: no content type for %q", name, ext)
		}
		sum := sha256.Sum256(b)
		hash := hex.EncodeToString(sum[:6])
		hashed := strings.TrimSuffix(name, ext) + "." + hash + ext
		u.assets[hashed] = &asset{body: b, ctype: ctype, etag: `"` + hash + `"`}
		u.urls[name] = StaticPrefix + hashed
		return nil
	})
}

var contentTypes = map[string]string{
	".css": "text/css; charset=utf-8",
	".js":  "text/javascript; charset=utf-8",
	".svg": "image/svg+xml",
	".txt": "text/plain; charset=utf-8",
}

// AssetURL returns the content-hashed URL of a static file ("app.css"), or
// an error if there is no such asset.
func (u *UI) AssetURL(name string) (string, error) {
	if s, ok := u.urls[name]; ok {
		return s, nil
	}
	return "", fmt.Errorf("web: no asset %q", name)
}

// ServeStatic serves one hashed asset by its file name. The name carries the
// content hash, so the response may be cached for a year. Unknown names
// (including unhashed ones) are 404.
func (u *UI) ServeStatic(w http.ResponseWriter, r *http.Request, file string) {
	a, ok := u.assets[file]
	if !ok {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", a.etag)
	http.ServeContent(w, r, file, time.Time{}, bytes.NewReader(a.body))
}

// NewNonce returns a fresh CSP nonce: 16 random bytes, unpadded base64url
// (no character that HTML escaping would change).
func NewNonce() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// CSP is the Content-Security-Policy of every page: our own origin only,
// scripts only from it or carrying the request's nonce, no inline styles,
// no framing.
func CSP(nonce string) string {
	return "default-src 'self'; script-src 'self' 'nonce-" + nonce + "'; style-src 'self'; img-src 'self' data:; " +
		"font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
}

// Render writes view with p as a complete HTML page with the given status.
// It sets a fresh nonce, the CSP that names it, and no-store caching: pages
// carry the tenant's data. The page is rendered into memory first, so a
// template error becomes a 500, never half a page.
func (u *UI) Render(w http.ResponseWriter, status int, view string, p *Page) error {
	t, ok := u.views[view]
	if !ok {
		return fmt.Errorf("web: no view %q", view)
	}
	p.Nonce = NewNonce()
	p.View = view
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		return fmt.Errorf("web: render %s: %w", view, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", CSP(p.Nonce))
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}
