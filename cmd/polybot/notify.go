package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/notify"
	"github.com/polybot/polybot/internal/secrets"
)

// notifyFlags configure the notification channels serve delivers on.
type notifyFlags struct {
	smtpAddr, smtpFrom, smtpUser, smtpPasswordFile string
	telegramURL                                    string
	publicURL                                      string // serve's --public-url, for links in notifications
	allowPrivate                                   bool
	backoff                                        time.Duration
}

func (f *notifyFlags) register(fs *flag.FlagSet, e *env) {
	fs.StringVar(&f.smtpAddr, "smtp-addr", e.getenv("POLYBOT_SMTP_ADDR"), "SMTP server host:port for email notifications, STARTTLS when offered (env POLYBOT_SMTP_ADDR); empty: no email")
	fs.StringVar(&f.smtpFrom, "smtp-from", envOr(e, "POLYBOT_SMTP_FROM", "PolyBot <polybot@localhost>"), "From of notification emails (env POLYBOT_SMTP_FROM)")
	fs.StringVar(&f.smtpUser, "smtp-username", e.getenv("POLYBOT_SMTP_USERNAME"), "SMTP username (PLAIN auth, only over TLS)")
	fs.StringVar(&f.smtpPasswordFile, "smtp-password-file", e.getenv("POLYBOT_SMTP_PASSWORD_FILE"), "file holding the SMTP password")
	fs.StringVar(&f.telegramURL, "telegram-api-url", envOr(e, "POLYBOT_TELEGRAM_API_URL", "https://api.telegram.org"), "Telegram Bot API base URL")
	fs.DurationVar(&f.backoff, "notify-retry-backoff", 30*time.Second, "wait after a failed notification delivery, doubled after each further failure (at most 1h), with jitter")
	fs.BoolVar(&f.allowPrivate, "notify-allow-private", e.getenv("POLYBOT_NOTIFY_ALLOW_PRIVATE") == "1", "let webhooks and Discord URLs reach loopback and private addresses (on with --sim)")
}

// dispatcher builds the notification dispatcher; sim lets webhooks reach
// loopback (the simulators' world is all on this machine).
func (f *notifyFlags) dispatcher(st polybot.Store, box *secrets.Box, clock polybot.Clock, log *slog.Logger, sim bool) (*notify.Dispatcher, error) {
	hc := notify.HTTPConfig{AllowPrivate: f.allowPrivate || sim, TelegramBase: f.telegramURL}
	senders := map[string]notify.Sender{
		polybot.ChannelTelegram: notify.NewTelegram(hc),
		polybot.ChannelDiscord:  notify.NewDiscord(hc),
		polybot.ChannelWebhook:  notify.NewWebhook(hc, nil),
	}
	if f.smtpAddr != "" {
		sc := notify.SMTPConfig{Addr: f.smtpAddr, From: f.smtpFrom, Username: f.smtpUser}
		if f.smtpPasswordFile != "" {
			b, err := os.ReadFile(f.smtpPasswordFile)
			if err != nil {
				return nil, fmt.Errorf("--smtp-password-file: %w", err)
			}
			sc.Password = strings.TrimSpace(string(b))
		}
		senders[polybot.ChannelEmail] = notify.NewEmail(sc, nil)
	}
	return notify.New(notify.Config{Store: st, Box: box, Senders: senders, Clock: clock, Logger: log.With("component", "notify"),
		BaseURL: strings.TrimRight(f.publicURL, "/"), Backoff: f.backoff}), nil
}
