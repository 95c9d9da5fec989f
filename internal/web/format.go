package web

import (
	"encoding/json"
	"errors"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/polybot/polybot"
)

func (u *UI) funcs() template.FuncMap {
	return template.FuncMap{
		"asset":         u.AssetURL,
		"money":         Money,
		"usd":           USD,
		"count":         Count,
		"monthName":     MonthName,
		"size":          Size,
		"clock":         Clock,
		"signClass":     SignClass,
		"ts":            Timestamp,
		"isoTime":       isoTime,
		"strategyLabel": StrategyLabel,
		"platformName":  polybot.PlatformName,
		"modeLabel":     ModeLabel,
		"haltLabel":     HaltLabel,
		"stateLabel":    StateLabel,
		"dict":          dict,
		"json":          toJSON,
		"join":          strings.Join,
		"has":           has,
		"add":           func(a, b int) int { return a + b },
		"capitalize":    capitalize,
		"short":         short,
		"latency":       LatencyMS,
		"invoiceStatus": InvoiceStatusLabel,
	}
}

// Money formats d in dollars and cents, rounding half away from zero, in
// exact integer arithmetic: "12.35", "-0.01", "1,250.00".
func Money(d polybot.Decimal) string {
	m := d.Micros()
	neg := m < 0
	if neg {
		m = -m
	}
	cents := (m + 5000) / 10000
	s := group(strconv.FormatInt(cents/100, 10)) + "." + twoDigits(cents%100)
	if neg && cents != 0 {
		return "-" + s
	}
	return s
}

// USD formats d as dollars with the sign in front: "$12.35", "-$0.40",
// "$1,250.00" — polybot.FormatUSD, the one money format.
func USD(d polybot.Decimal) string { return polybot.FormatUSD(d) }

// group puts thousands separators into a string of digits.
func group(digits string) string {
	if len(digits) <= 3 {
		return digits
	}
	var b strings.Builder
	lead := len(digits) % 3
	if lead > 0 {
		b.WriteString(digits[:lead])
	}
	for i := lead; i < len(digits); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(digits[i : i+3])
	}
	return b.String()
}

// Count formats a whole number with thousands separators.
func Count(n int) string {
	if n < 0 {
		return "-" + group(strconv.Itoa(-n))
	}
	return group(strconv.Itoa(n))
}

// Clock formats a recent event's time: "Nov 28, 12:19:05", UTC.
func Clock(t time.Time) string { return t.UTC().Format("Jan 2, 15:04:05") }

func twoDigits(n int64) string {
	if n < 10 {
		return "0" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}

// SignClass is the CSS class for a signed amount: pos, neg or zero.
func SignClass(d polybot.Decimal) string {
	switch d.Sign() {
	case 1:
		return "pos"
	case -1:
		return "neg"
	}
	return "zero"
}

// Timestamp formats t for people, in UTC (the server cannot know the
// reader's zone; the page's script shows local times where it redraws).
func Timestamp(t any) string {
	switch v := t.(type) {
	case time.Time:
		if v.IsZero() {
			return "—"
		}
		return v.UTC().Format("2006-01-02 15:04:05") + " UTC"
	case *time.Time:
		if v == nil {
			return "never"
		}
		return Timestamp(*v)
	}
	return ""
}

func isoTime(t any) string {
	switch v := t.(type) {
	case time.Time:
		return v.UTC().Format(time.RFC3339)
	case *time.Time:
		if v != nil {
			return v.UTC().Format(time.RFC3339)
		}
	}
	return ""
}

var strategyNames = map[string]string{
	polybot.StrategySinglePlatform: "Single-platform arbitrage",
	polybot.StrategyCrossPlatform:  "Cross-platform arbitrage",
	polybot.StrategyOverlapping:    "Overlapping arbitrage",
	polybot.StrategyNews:           "News arbitrage",
	polybot.StrategyCopy:           "Copy trading",
	"locked":                       "Locked-in sets",
}

// StrategyLabel names a strategy, or a P&L series key ("cross_platform/dry_run").
func StrategyLabel(s string) string {
	name, mode, ok := strings.Cut(s, "/")
	label := strategyNames[name]
	if label == "" {
		label = name
	}
	if ok {
		return label + " · " + ModeLabel(polybot.ExecMode(mode))
	}
	return label
}

// ModeLabel names an execution mode.
func ModeLabel(m polybot.ExecMode) string {
	switch m {
	case polybot.DryRun:
		return "dry-run"
	case polybot.Live:
		return "live"
	}
	return string(m)
}

// HaltLabel names a halt state.
func HaltLabel(s string) string {
	switch s {
	case polybot.HaltActive:
		return "Active"
	case polybot.HaltReducingOnly:
		return "Reducing only"
	case polybot.HaltHalted:
		return "Halted"
	}
	return s
}

// StateLabel names a bot state.
func StateLabel(s string) string {
	if s == "" {
		return "Unavailable"
	}
	return capitalize(s)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, errors.New("dict: odd number of arguments")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, errors.New("dict: keys must be strings")
		}
		m[k] = kv[i+1]
	}
	return m, nil
}

func toJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// short keeps the last 8 characters of a long identifier.
func short(s string) string {
	if len(s) <= 10 {
		return s
	}
	return "…" + s[len(s)-8:]
}

// MonthName writes a quota month ("2026-12") as a reader says it:
// "December 2026". Anything else is returned as it is.
func MonthName(month string) string {
	t, err := time.Parse("2006-01", month)
	if err != nil {
		return month
	}
	return t.Format("January 2006")
}

// Size formats a number of contracts or shares with thousands separators
// and no trailing zeros: "51", "1,103.12", "0.5".
func Size(d polybot.Decimal) string {
	s := d.String()
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	ip, fp, _ := strings.Cut(s, ".")
	fp = strings.TrimRight(fp, "0")
	out := group(ip)
	if fp != "" {
		out += "." + fp
	}
	if neg && out != "0" {
		out = "-" + out
	}
	return out
}
