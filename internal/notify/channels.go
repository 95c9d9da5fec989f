package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/egress"
)

// Target is a destination with its opened secrets, for one send.
type Target struct {
	Dest    *polybot.NotifyDestination
	Secrets map[string][]byte
}

// Sender sends a message on one channel.
type Sender interface {
	Send(ctx context.Context, to Target, m *Message) error
}

// SendError is why a send failed, in words that name no secret.
// Permanent failures (the receiver refused the message itself) are not
// retried; RetryAfter is the receiver's own wait, if it said one.
type SendError struct {
	Msg        string
	Permanent  bool
	RetryAfter time.Duration
}

func (e *SendError) Error() string { return e.Msg }

func failure(permanent bool, format string, args ...any) *SendError {
	return &SendError{Msg: fmt.Sprintf(format, args...), Permanent: permanent}
}

// scrub removes every secret from an error message.
func scrub(msg string, secrets map[string][]byte) string {
	for _, s := range secrets {
		if len(s) > 0 {
			msg = strings.ReplaceAll(msg, string(s), "[redacted]")
			if u, err := url.Parse(string(s)); err == nil && u.Path != "" {
				msg = strings.ReplaceAll(msg, u.Path, "[redacted]")
			}
		}
	}
	return msg
}

// --- HTTP channels ---

// HTTPConfig configures the HTTP channels.
type HTTPConfig struct {
	// Timeout bounds one request (default 10s).
	Timeout time.Duration
	// AllowPrivate lets webhooks reach loopback and private addresses
	// (tests and --sim). Otherwise a URL resolving to one is refused, so
	// a user's webhook cannot probe the server's network.
	AllowPrivate bool
	// TelegramBase is the Bot API's base URL (default https://api.telegram.org).
	TelegramBase string
	// UserAgent is sent with every request.
	UserAgent string
}

func newHTTPClient(c HTTPConfig) *http.Client {
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	d := egress.Dialer(c.Timeout, c.AllowPrivate)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = d.DialContext
	tr.Proxy = nil
	return &http.Client{Timeout: c.Timeout, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// post sends body as JSON and classifies the answer. out, if not nil,
// receives a 2xx answer's JSON.
func post(ctx context.Context, client *http.Client, ua, u string, body []byte, hdr http.Header, secrets map[string][]byte) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, nil, failure(true, "bad destination URL")
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", ua)
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // never the URL: it may carry a token
		}
		msg := err.Error()
		if errors.Is(err, context.DeadlineExceeded) || strings.Contains(msg, "Client.Timeout") || strings.Contains(msg, "timeout") {
			msg = "timed out"
		}
		return nil, nil, failure(false, "%s", scrub(msg, secrets))
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 == 2 {
		return resp, rb, nil
	}
	e := failure(resp.StatusCode/100 == 4 && resp.StatusCode != 408 && resp.StatusCode != 425 && resp.StatusCode != 429,
		"HTTP %d %s", resp.StatusCode, scrub(snippet(rb), secrets))
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		e.RetryAfter = time.Duration(min(s, 3600)) * time.Second
	}
	return resp, rb, e
}

func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return polybot.TextError(s, 0) + s // a non-text body shows its complaint instead
}

// Webhook sends signed JSON (see Sign).
type Webhook struct {
	client *http.Client
	ua     string
	now    polybot.Clock
}

// NewWebhook returns the generic webhook channel.
func NewWebhook(c HTTPConfig, now polybot.Clock) *Webhook {
	return &Webhook{client: newHTTPClient(c), ua: userAgent(c), now: clockOr(now)}
}

func (w *Webhook) Send(ctx context.Context, to Target, m *Message) error {
	secret := to.Secrets[polybot.NotifyFieldSigning]
	hdr := http.Header{}
	hdr.Set(SignatureHeader, Sign(secret, w.now(), m.JSON))
	hdr.Set(IdempotencyHeader, m.Key)
	hdr.Set(EventHeader, m.Event.Type)
	_, _, err := post(ctx, w.client, w.ua, string(to.Secrets[polybot.NotifyFieldURL]), m.JSON, hdr, to.Secrets)
	return err
}

// Discord posts to an incoming webhook.
type Discord struct {
	client *http.Client
	ua     string
}

// NewDiscord returns the Discord channel.
func NewDiscord(c HTTPConfig) *Discord { return &Discord{client: newHTTPClient(c), ua: userAgent(c)} }

func (d *Discord) Send(ctx context.Context, to Target, m *Message) error {
	desc := m.Event.Text
	if m.Link != "" {
		desc += "\n\n" + m.Link
	}
	body, _ := json.Marshal(map[string]any{
		"embeds":           []any{map[string]any{"title": trim(m.Event.Title, 256), "description": trim(desc, 4000), "footer": map[string]string{"text": m.Key}}},
		"allowed_mentions": map[string]any{"parse": []string{}},
	})
	u := string(to.Secrets[polybot.NotifyFieldURL])
	if strings.Contains(u, "?") {
		u += "&wait=true"
	} else {
		u += "?wait=true"
	}
	_, rb, err := post(ctx, d.client, d.ua, u, body, nil, to.Secrets)
	var se *SendError
	if errors.As(err, &se) && se.RetryAfter == 0 {
		var ra struct {
			RetryAfter float64 `json:"retry_after"`
		}
		if json.Unmarshal(rb, &ra) == nil && ra.RetryAfter > 0 {
			se.RetryAfter = time.Duration(min(ra.RetryAfter, 3600) * float64(time.Second))
		}
	}
	return err
}

// Telegram sends through the Bot API's sendMessage.
type Telegram struct {
	client *http.Client
	ua     string
	base   string
}

// NewTelegram returns the Telegram channel.
func NewTelegram(c HTTPConfig) *Telegram {
	base := strings.TrimRight(c.TelegramBase, "/")
	if base == "" {
		base = "https://api.telegram.org"
	}
	return &Telegram{client: newHTTPClient(c), ua: userAgent(c), base: base}
}

func (t *Telegram) Send(ctx context.Context, to Target, m *Message) error {
	chat := strings.TrimPrefix(to.Dest.Target, "chat ")
	body, _ := json.Marshal(map[string]any{"chat_id": chat, "text": trim(m.short(), 4096), "disable_web_page_preview": true})
	_, rb, err := post(ctx, t.client, t.ua, t.base+"/bot"+string(to.Secrets[polybot.NotifyFieldBotToken])+"/sendMessage", body, nil, to.Secrets)
	var ans struct {
		OK          bool   `json:"ok"`
		Description string `json:"description"`
		Parameters  struct {
			RetryAfter int `json:"retry_after"`
		} `json:"parameters"`
	}
	_ = json.Unmarshal(rb, &ans)
	var se *SendError
	if errors.As(err, &se) {
		if ans.Description != "" {
			se.Msg = "Telegram: " + scrub(trim(ans.Description, 200), to.Secrets)
		}
		if ans.Parameters.RetryAfter > 0 {
			se.RetryAfter = time.Duration(min(ans.Parameters.RetryAfter, 3600)) * time.Second
		}
		return se
	}
	if err == nil && !ans.OK {
		return failure(true, "Telegram: %s", scrub(trim(ans.Description, 200), to.Secrets))
	}
	return err
}

func trim(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func userAgent(c HTTPConfig) string {
	if c.UserAgent != "" {
		return c.UserAgent
	}
	return "PolyBot-Notify/1"
}

func clockOr(c polybot.Clock) polybot.Clock {
	if c == nil {
		return polybot.SystemClock
	}
	return c
}

// --- email ---

// SMTPConfig configures the email channel.
type SMTPConfig struct {
	Addr     string // host:port
	From     string // the From address, e.g. "PolyBot <bot@example.com>"
	Username string // with Password: PLAIN auth (only over TLS, or to localhost)
	Password string
	// Hello is the name sent in EHLO (default "localhost").
	Hello string
	// TLS, if set, configures STARTTLS (default: verify the server's name).
	TLS *tls.Config
	// Timeout bounds one message (default 30s).
	Timeout time.Duration
}

// Email sends through an SMTP server, upgrading with STARTTLS whenever the
// server offers it.
type Email struct {
	cfg SMTPConfig
	now polybot.Clock
}

// NewEmail returns the email channel.
func NewEmail(c SMTPConfig, now polybot.Clock) *Email {
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Hello == "" {
		c.Hello = "localhost"
	}
	return &Email{cfg: c, now: clockOr(now)}
}

func (e *Email) Send(ctx context.Context, to Target, m *Message) error {
	if e.cfg.Addr == "" {
		return failure(false, "email is not configured on this server (no SMTP address)")
	}
	from, err := mailAddress(e.cfg.From)
	if err != nil {
		return failure(false, "the server's From address is not valid")
	}
	raw, err := e.compose(from, to.Dest.Target, m)
	if err != nil {
		return failure(true, "composing the message: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", e.cfg.Addr)
	if err != nil {
		return failure(false, "SMTP: %v", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	host, _, _ := net.SplitHostPort(e.cfg.Addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return smtpFailure(err)
	}
	defer c.Close()
	if err := c.Hello(e.cfg.Hello); err != nil {
		return smtpFailure(err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		tc := e.cfg.TLS
		if tc == nil {
			tc = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
		if err := c.StartTLS(tc); err != nil {
			return smtpFailure(err)
		}
	}
	if e.cfg.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", e.cfg.Username, e.cfg.Password, host)); err != nil {
			return smtpFailure(err)
		}
	}
	if err := c.Mail(from); err != nil {
		return smtpFailure(err)
	}
	if err := c.Rcpt(to.Dest.Target); err != nil {
		return smtpFailure(err)
	}
	w, err := c.Data()
	if err != nil {
		return smtpFailure(err)
	}
	if _, err := w.Write(raw); err != nil {
		return smtpFailure(err)
	}
	if err := w.Close(); err != nil {
		return smtpFailure(err)
	}
	_ = c.Quit()
	return nil
}

func mailAddress(s string) (string, error) {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", err
	}
	return a.Address, nil
}

// smtpFailure: a 5xx reply is permanent, anything else is retried.
func smtpFailure(err error) error {
	var te *textproto.Error
	if errors.As(err, &te) {
		return failure(te.Code >= 500, "SMTP %d %s", te.Code, trim(te.Msg, 200))
	}
	return failure(false, "SMTP: %v", err)
}

// compose builds a multipart/alternative message (text and HTML). Its
// Message-ID is the idempotency key, so a resend is recognisably the same.
func (e *Email) compose(from, to string, m *Message) ([]byte, error) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	hdr := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	fromHdr := e.cfg.From
	if fromHdr == "" {
		fromHdr = from
	}
	hdr("From", fromHdr)
	hdr("To", to)
	hdr("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	hdr("Date", e.now().Format(time.RFC1123Z))
	hdr("Message-ID", "<"+m.Key+"@polybot.invalid>")
	hdr("X-Polybot-Idempotency-Key", m.Key)
	hdr("X-Polybot-Event", m.Event.Type)
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "multipart/alternative; boundary="+mw.Boundary())
	b.WriteString("\r\n")
	for _, part := range []struct{ typ, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		pw, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {part.typ + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"}})
		if err != nil {
			return nil, err
		}
		qw := quotedprintable.NewWriter(pw)
		if _, err := qw.Write([]byte(part.body)); err != nil {
			return nil, err
		}
		if err := qw.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
