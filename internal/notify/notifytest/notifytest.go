// Package notifytest holds the real and simulated peers of the
// notification channels for tests: Mailpit (a real SMTP server, started as
// a child process, read through its HTTP API), in-process simulators of
// the Telegram Bot API and Discord incoming webhooks, and a webhook
// receiver that checks signatures and counts idempotency keys. It imports
// only the root package and internal/notify (for Verify).
package notifytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polybot/polybot/internal/notify"
)

// MailpitPath finds the mailpit binary: $MAILPIT, then $PATH, then
// $GOPATH/bin. "" if there is none.
func MailpitPath() string {
	if p := os.Getenv("MAILPIT"); p != "" {
		return p
	}
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		home, _ := os.UserHomeDir()
		gopath = filepath.Join(home, "go")
	}
	if p := filepath.Join(gopath, "bin", "mailpit"); fileExists(p) {
		return p
	}
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// Mailpit is a running Mailpit server.
type Mailpit struct {
	SMTPAddr string // host:port
	API      string // http://host:port
	// RootCAs trusts its STARTTLS certificate (nil without TLS).
	RootCAs *x509.CertPool
}

// StartMailpit starts Mailpit on free loopback ports, with STARTTLS
// required when tls is set, and stops it when t ends. Without the binary
// the test is skipped, unless POLYBOT_REQUIRE_MAILPIT=1.
func StartMailpit(t testing.TB, withTLS bool) *Mailpit {
	t.Helper()
	bin := MailpitPath()
	if bin == "" {
		if os.Getenv("POLYBOT_REQUIRE_MAILPIT") == "1" {
			t.Fatal("mailpit is required (POLYBOT_REQUIRE_MAILPIT=1) but not installed: go install github.com/axllent/mailpit@v1.33.1")
		}
		t.Skip("mailpit not installed (go install github.com/axllent/mailpit@v1.33.1)")
	}
	dir := t.TempDir()
	m := &Mailpit{SMTPAddr: freeAddr(t), API: "http://" + freeAddr(t)}
	args := []string{"--smtp", m.SMTPAddr, "--listen", strings.TrimPrefix(m.API, "http://"), "--database", filepath.Join(dir, "mailpit.db"),
		"--disable-version-check", "--smtp-disable-rdns"}
	if withTLS {
		cert, key, pool := selfSigned(t)
		certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		if err := os.WriteFile(certFile, cert, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keyFile, key, 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--smtp-tls-cert", certFile, "--smtp-tls-key", keyFile, "--smtp-require-starttls")
		m.RootCAs = pool
	}
	cmd := exec.Command(bin, args...)
	log := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting mailpit: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(m.API + "/api/v1/messages")
		if err == nil {
			resp.Body.Close()
			if c, err := net.Dial("tcp", m.SMTPAddr); err == nil {
				c.Close()
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailpit did not start: %s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TLSConfig is the client's STARTTLS configuration for this server.
func (m *Mailpit) TLSConfig() *tls.Config {
	if m.RootCAs == nil {
		return nil
	}
	return &tls.Config{RootCAs: m.RootCAs, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// Mail is a message as Mailpit's API shows it.
type Mail struct {
	ID        string
	MessageID string
	Subject   string
	To        []struct{ Address string }
	From      struct{ Name, Address string }
	Text      string
	HTML      string
}

// Messages lists every message Mailpit received, with their text and
// HTML bodies.
func (m *Mailpit) Messages(t testing.TB) []Mail {
	t.Helper()
	var list struct{ Messages []Mail }
	getJSON(t, m.API+"/api/v1/messages?limit=500", &list)
	for i := range list.Messages {
		var full Mail
		getJSON(t, m.API+"/api/v1/message/"+list.Messages[i].ID, &full)
		list.Messages[i].Text, list.Messages[i].HTML = full.Text, full.HTML
	}
	return list.Messages
}

func getJSON(t testing.TB, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func selfSigned(t testing.TB) (certPEM, keyPEM []byte, pool *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mailpit test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), pool
}

// Fault is how a simulated receiver answers the next requests.
type Fault struct {
	Status int           // answer this status (0: succeed)
	Delay  time.Duration // wait this long first (a slow receiver; past the sender's timeout, a timeout)
	Times  int           // for this many requests (0: until changed)
	// Late: the receiver takes the delivery first, then waits Delay and
	// answers Status (a receiver that is slow to answer what it did).
	Late bool
}

// faults is a queue of faults shared by the simulators.
type faults struct {
	mu sync.Mutex
	q  []Fault
}

// Fail queues faults: each applies to its Times requests, in order.
func (f *faults) Fail(fs ...Fault) {
	f.mu.Lock()
	f.q = append(f.q, fs...)
	f.mu.Unlock()
}

// Clear forgets every queued fault: the peer answers normally again.
func (f *faults) Clear() {
	f.mu.Lock()
	f.q = nil
	f.mu.Unlock()
}

func (f *faults) next() Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.q) == 0 {
		return Fault{}
	}
	x := f.q[0]
	if x.Times > 0 {
		f.q[0].Times--
		if f.q[0].Times == 0 {
			f.q = f.q[1:]
		}
	}
	return x
}

// apply waits and answers a fault; true if it answered.
func (x Fault) apply(w http.ResponseWriter, r *http.Request) bool {
	if x.Delay > 0 {
		select {
		case <-time.After(x.Delay):
		case <-r.Context().Done():
			return true
		}
	}
	if x.Status != 0 {
		w.WriteHeader(x.Status)
		fmt.Fprintf(w, `{"ok":false,"error_code":%d,"description":"simulated failure"}`, x.Status)
		return true
	}
	return false
}

// Receiver is a webhook receiver: it checks each request's signature
// against the secret it is given, and counts deliveries by idempotency key.
type Receiver struct {
	faults
	*httptest.Server
	mu       sync.Mutex
	secret   []byte
	requests int
	byKey    map[string]int
	bodies   map[string][]byte
	bad      []string
	arrived  chan string
}

// NewReceiver starts a receiver; SetSecret gives it the signing secret.
func NewReceiver(t testing.TB) *Receiver {
	r := &Receiver{byKey: map[string]int{}, bodies: map[string][]byte{}, arrived: make(chan string, 1000)}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

// SetSecret sets the secret signatures are checked with.
func (r *Receiver) SetSecret(s string) {
	r.mu.Lock()
	r.secret = []byte(s)
	r.mu.Unlock()
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.requests++
	secret := r.secret
	r.mu.Unlock()
	x := r.next()
	if !x.Late && x.apply(w, req) {
		return
	}
	key := req.Header.Get(notify.IdempotencyHeader)
	if err := notify.Verify(req.Header.Get(notify.SignatureHeader), secret, body, time.Now(), 5*time.Minute); err != nil || key == "" {
		r.mu.Lock()
		r.bad = append(r.bad, fmt.Sprintf("%v (key %q)", err, key))
		r.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	r.mu.Lock()
	r.byKey[key]++
	first := r.byKey[key] == 1
	if first {
		r.bodies[key] = body
	}
	r.mu.Unlock()
	if first {
		r.arrived <- key
	}
	if x.Late && x.apply(w, req) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Stats returns how many requests came, the accepted (signed) deliveries
// by idempotency key, and the refused ones' reasons.
func (r *Receiver) Stats() (requests int, byKey map[string]int, bad []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	byKey = map[string]int{}
	for k, v := range r.byKey {
		byKey[k] = v
	}
	return r.requests, byKey, append([]string(nil), r.bad...)
}

// Body is the first accepted body with idempotency key key.
func (r *Receiver) Body(key string) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bodies[key]
}

// Wait waits up to d for a delivery with a new key and returns it ("" on timeout).
func (r *Receiver) Wait(d time.Duration) string {
	select {
	case k := <-r.arrived:
		return k
	case <-time.After(d):
		return ""
	}
}

// Chat is one message a simulator received.
type Chat struct {
	Token, ChatID, Text string
	Title, Footer       string // Discord embeds
}

// TelegramSim speaks the Bot API's sendMessage: POST
// /bot<token>/sendMessage with chat_id and text. Only Token is a known
// bot; others get 401 as Telegram answers.
type TelegramSim struct {
	faults
	*httptest.Server
	Token string
	mu    sync.Mutex
	msgs  []Chat
}

// NewTelegramSim starts a simulator that knows bot token.
func NewTelegramSim(t testing.TB, token string) *TelegramSim {
	s := &TelegramSim{Token: token}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *TelegramSim) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	tok, method, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/bot"), "/")
	if r.Method != http.MethodPost || !ok || method != "sendMessage" {
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"ok":false,"error_code":404,"description":"Not Found"}`)
		return
	}
	if tok != s.Token {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"ok":false,"error_code":401,"description":"Unauthorized"}`)
		return
	}
	if x := s.next(); x.apply(w, r) {
		return
	}
	var in struct {
		ChatID any    `json:"chat_id"`
		Text   string `json:"text"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Text == "" || in.ChatID == nil {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"ok":false,"error_code":400,"description":"Bad Request: message text is empty"}`)
		return
	}
	s.mu.Lock()
	s.msgs = append(s.msgs, Chat{Token: tok, ChatID: fmt.Sprint(in.ChatID), Text: in.Text})
	n := len(s.msgs)
	s.mu.Unlock()
	fmt.Fprintf(w, `{"ok":true,"result":{"message_id":%d,"date":%d,"text":%q}}`, n, time.Now().Unix(), in.Text)
}

// Messages lists what the bot was asked to send.
func (s *TelegramSim) Messages() []Chat {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Chat(nil), s.msgs...)
}

// DiscordSim speaks Discord's incoming webhooks: POST
// /api/webhooks/<id>/<token> with content or embeds; 204, or 200 with the
// message under ?wait=true. An unknown webhook is 404; 429 carries
// retry_after.
type DiscordSim struct {
	faults
	*httptest.Server
	Path string // /api/webhooks/<id>/<token>
	mu   sync.Mutex
	msgs []Chat
}

// NewDiscordSim starts a simulator with one webhook; URL() is its address.
func NewDiscordSim(t testing.TB) *DiscordSim {
	s := &DiscordSim{Path: "/api/webhooks/123456789/tok-" + fmt.Sprint(time.Now().UnixNano())}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// URL is the webhook's URL (its token included).
func (s *DiscordSim) URL() string { return s.Server.URL + s.Path }

func (s *DiscordSim) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodPost || r.URL.Path != s.Path {
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"message": "Unknown Webhook", "code": 10015}`)
		return
	}
	if x := s.next(); x.Status == http.StatusTooManyRequests {
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"message": "You are being rate limited.", "retry_after": 0.05, "global": false}`)
		return
	} else if x.apply(w, r) {
		return
	}
	var in struct {
		Content string `json:"content"`
		Embeds  []struct {
			Title       string `json:"title"`
			Description string `json:"description"`
			Footer      struct {
				Text string `json:"text"`
			} `json:"footer"`
		} `json:"embeds"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || (in.Content == "" && len(in.Embeds) == 0) {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"message": "Cannot send an empty message", "code": 50006}`)
		return
	}
	c := Chat{Text: in.Content}
	if len(in.Embeds) > 0 {
		c.Title, c.Text, c.Footer = in.Embeds[0].Title, in.Embeds[0].Description, in.Embeds[0].Footer.Text
	}
	s.mu.Lock()
	s.msgs = append(s.msgs, c)
	s.mu.Unlock()
	if r.URL.Query().Get("wait") == "true" {
		fmt.Fprintf(w, `{"id":"%d","type":0,"content":%q}`, time.Now().UnixNano(), in.Content)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Messages lists what the webhook received.
func (s *DiscordSim) Messages() []Chat {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Chat(nil), s.msgs...)
}
