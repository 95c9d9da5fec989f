package notify

import (
	"bytes"
	"embed"
	"encoding/json"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"

	"github.com/polybot/polybot"
)

//go:embed templates
var templateFS embed.FS

// The email templates; a missing or broken one fails at start.
var (
	textTmpl = texttemplate.Must(texttemplate.ParseFS(templateFS, "templates/email.txt.tmpl"))
	htmlTmpl = htmltemplate.Must(htmltemplate.ParseFS(templateFS, "templates/email.html.tmpl"))
)

// Message is one delivery rendered for a channel.
type Message struct {
	Key     string // the idempotency key
	Event   *polybot.NotifyEvent
	Subject string
	Text    string
	HTML    string
	JSON    []byte // a webhook's body
	Link    string // optional: a confirmation link (email) shown with the text
}

// view is what the email templates see.
type view struct {
	Title, Text, Link, Key, Type, Settings string
}

// Render renders e (the delivery's payload) under idempotency key key.
// settings is the URL of the notification settings page ("" to leave it out).
func Render(key string, e *polybot.NotifyEvent, link, settings string) (*Message, error) {
	m := &Message{Key: key, Event: e, Subject: "PolyBot: " + e.Title, Link: link}
	v := view{Title: e.Title, Text: e.Text, Link: link, Key: key, Type: e.Type, Settings: settings}
	var tb, hb bytes.Buffer
	if err := textTmpl.Execute(&tb, v); err != nil {
		return nil, err
	}
	if err := htmlTmpl.Execute(&hb, v); err != nil {
		return nil, err
	}
	m.Text, m.HTML = tb.String(), hb.String()
	body := map[string]any{"id": e.ID, "idempotency_key": key, "type": e.Type, "created_at": e.At, "title": e.Title, "text": e.Text}
	if len(e.Data) > 0 {
		body["data"] = e.Data
	}
	var err error
	if m.JSON, err = json.Marshal(body); err != nil {
		return nil, err
	}
	return m, nil
}

// short is the message as one chat line or two: title, text, link.
func (m *Message) short() string {
	parts := []string{m.Event.Title}
	if m.Event.Text != "" {
		parts = append(parts, m.Event.Text)
	}
	if m.Link != "" {
		parts = append(parts, m.Link)
	}
	return strings.Join(parts, "\n\n")
}
