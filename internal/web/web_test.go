package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/polybot/polybot"
)

// embeddedCopy returns the embedded files as a MapFS that a test may break.
func embeddedCopy(t *testing.T) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(embedded, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(embedded, p)
		m[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestNewFailsAtStartWhenAViewIsMissing(t *testing.T) {
	for _, v := range Views {
		files := embeddedCopy(t)
		delete(files, "templates/"+v+".html")
		if _, err := NewFS(files); err == nil || !strings.Contains(err.Error(), `"`+v+`"`) {
			t.Errorf("without %s.html: err = %v, want an error naming the view", v, err)
		}
	}
	files := embeddedCopy(t)
	delete(files, "templates/layout.html")
	if _, err := NewFS(files); err == nil {
		t.Error("without the layout: no error")
	}
}

func TestNewFailsAtStartOnABrokenTemplate(t *testing.T) {
	files := embeddedCopy(t)
	files["templates/config.html"] = &fstest.MapFile{Data: []byte(`{{define "content"}}{{if}}{{end}}`)}
	if _, err := NewFS(files); err == nil {
		t.Fatal("a template that does not parse was accepted")
	}
	files = embeddedCopy(t)
	files["templates/plan.html"] = &fstest.MapFile{Data: []byte(`{{define "body"}}no content{{end}}`)}
	if _, err := NewFS(files); err == nil || !strings.Contains(err.Error(), "content") {
		t.Fatalf("a view without content: err = %v", err)
	}
}

func TestAssetsAreServedUnderContentHashedURLsWithLongCaching(t *testing.T) {
	ui, err := New()
	if err != nil {
		t.Fatal(err)
	}
	hashed := regexp.MustCompile(`^/static/[a-z]+\.[0-9a-f]{12}\.(css|js|svg)$`)
	for _, name := range []string{"app.css", "app.js", "theme.js", "favicon.svg"} {
		u, err := ui.AssetURL(name)
		if err != nil {
			t.Fatal(err)
		}
		if !hashed.MatchString(u) {
			t.Errorf("%s is served at %s, not a content-hashed URL", name, u)
		}
		file := strings.TrimPrefix(u, StaticPrefix)
		rec := httptest.NewRecorder()
		ui.ServeStatic(rec, httptest.NewRequest("GET", u, nil), file)
		if rec.Code != 200 || rec.Body.Len() == 0 {
			t.Fatalf("GET %s: %d", u, rec.Code)
		}
		if cc := rec.Header().Get("Cache-Control"); !strings.Contains(cc, "max-age=31536000") || !strings.Contains(cc, "immutable") {
			t.Errorf("GET %s: Cache-Control %q", u, cc)
		}
		etag := rec.Header().Get("ETag")
		req := httptest.NewRequest("GET", u, nil)
		req.Header.Set("If-None-Match", etag)
		rec = httptest.NewRecorder()
		ui.ServeStatic(rec, req, file)
		if rec.Code != http.StatusNotModified {
			t.Errorf("GET %s with its ETag: %d, want 304", u, rec.Code)
		}
	}
	if ct := serve(ui, "app.css").Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("app.css Content-Type %q", ct)
	}
	for _, bad := range []string{"app.css", "app.000000000000.css", "../web.go", "nope.js"} {
		rec := httptest.NewRecorder()
		ui.ServeStatic(rec, httptest.NewRequest("GET", "/static/"+bad, nil), bad)
		if rec.Code != http.StatusNotFound {
			t.Errorf("GET /static/%s: %d, want 404", bad, rec.Code)
		}
	}
	if _, err := ui.AssetURL("missing.css"); err == nil {
		t.Error("AssetURL of a missing asset: no error")
	}
}

func serve(ui *UI, name string) *httptest.ResponseRecorder {
	u, _ := ui.AssetURL(name)
	rec := httptest.NewRecorder()
	ui.ServeStatic(rec, httptest.NewRequest("GET", u, nil), strings.TrimPrefix(u, StaticPrefix))
	return rec
}

func TestAssetHashChangesWithTheContent(t *testing.T) {
	a, _ := New()
	files := embeddedCopy(t)
	files["static/app.css"] = &fstest.MapFile{Data: append(files["static/app.css"].Data, []byte("\n/* changed */\n")...)}
	b, err := NewFS(files)
	if err != nil {
		t.Fatal(err)
	}
	ua, _ := a.AssetURL("app.css")
	ub, _ := b.AssetURL("app.css")
	uja, _ := a.AssetURL("app.js")
	ujb, _ := b.AssetURL("app.js")
	if ua == ub || uja != ujb {
		t.Fatalf("css %s → %s, js %s → %s: only the changed file's URL may change", ua, ub, uja, ujb)
	}
}

var (
	scriptTag = regexp.MustCompile(`<script\b[^>]*>`)
	nonceAttr = regexp.MustCompile(`\bnonce="([^"]+)"`)
	cspNonce  = regexp.MustCompile(`'nonce-([^']+)'`)
)

// CheckPageSecurity checks a rendered page against its CSP header: every
// script carries the header's nonce, no element has an inline style or an
// inline event handler, and nothing is loaded from another host.
func checkPageSecurity(t *testing.T, header http.Header, body string) {
	t.Helper()
	csp := header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self' 'nonce-", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP %q allows inline code", csp)
	}
	m := cspNonce.FindStringSubmatch(csp)
	if m == nil {
		t.Fatalf("CSP %q has no nonce", csp)
	}
	tags := scriptTag.FindAllString(body, -1)
	if len(tags) == 0 {
		t.Error("page has no script tag")
	}
	for _, tag := range tags {
		if n := nonceAttr.FindStringSubmatch(tag); n == nil || n[1] != m[1] {
			t.Errorf("script tag %s does not carry the CSP nonce %s", tag, m[1])
		}
	}
	if regexp.MustCompile(`\sstyle=`).MatchString(body) || strings.Contains(body, "<style") {
		t.Error("page has inline style")
	}
	if regexp.MustCompile(`\son[a-z]+=`).MatchString(body) {
		t.Error("page has an inline event handler")
	}
	if regexp.MustCompile(`(src|href|action)="(https?:)?//`).MatchString(body) {
		t.Error("page refers to another host")
	}
}

func TestRenderSetsAFreshNonceThatEveryScriptCarries(t *testing.T) {
	ui, err := New()
	if err != nil {
		t.Fatal(err)
	}
	var nonces []string
	for i := 0; i < 2; i++ {
		rec := httptest.NewRecorder()
		if err := ui.Render(rec, 200, "login", &Page{Title: "Log in", Data: AuthData{}}); err != nil {
			t.Fatal(err)
		}
		checkPageSecurity(t, rec.Header(), rec.Body.String())
		if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q", cc)
		}
		nonces = append(nonces, cspNonce.FindStringSubmatch(rec.Header().Get("Content-Security-Policy"))[1])
	}
	if nonces[0] == nonces[1] {
		t.Error("two responses share a nonce")
	}
	if err := ui.Render(httptest.NewRecorder(), 200, "nope", &Page{}); err == nil {
		t.Error("rendering an unknown view: no error")
	}
}

func TestRenderFailsWholeOnATemplateError(t *testing.T) {
	ui, _ := New()
	rec := httptest.NewRecorder()
	// The dashboard needs DashboardData; a string makes execution fail.
	if err := ui.Render(rec, 200, "dashboard", &Page{Title: "x", User: &Viewer{Email: "a@b.c"}, Data: "wrong"}); err == nil {
		t.Fatal("no error")
	}
	if rec.Body.Len() != 0 || rec.Code != 200 || len(rec.Header()) != 0 {
		t.Errorf("half a page was written: %d bytes", rec.Body.Len())
	}
}

func TestMoneyRoundsHalfAwayFromZeroExactly(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"0", "0.00"}, {"1.005", "1.01"}, {"1.004999", "1.00"}, {"-1.005", "-1.01"}, {"-0.004", "0.00"},
		{"12.3", "12.30"}, {"1234567.891", "1,234,567.89"}, {"-1000", "-1,000.00"}, {"999.995", "1,000.00"},
	} {
		if got := Money(polybot.MustDecimal(tc.in)); got != tc.want {
			t.Errorf("Money(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
	if USD(polybot.MustDecimal("-0.4")) != "-$0.40" || USD(polybot.MustDecimal("1250")) != "$1,250.00" {
		t.Error("USD does not put the sign before the dollar")
	}
	if Count(1234567) != "1,234,567" || Count(100) != "100" || Count(-1000) != "-1,000" {
		t.Error("Count does not group thousands")
	}
}

// Chart geometry worked by hand. The plot is x 84..704 (620 units) and
// y 16..228 (212 units); coordinates are hundredths, rounded down.
func TestChartPlacesStepsExactlyWithNiceMoneyAndTimeTicks(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	d := polybot.MustDecimal
	series := []PnLPoint{
		{Time: t0, Strategy: "single_platform/dry_run", Total: d("2")},
		{Time: t0.Add(30 * time.Minute), Strategy: "cross_platform/dry_run", Total: d("-2")},
		{Time: t0.Add(30 * time.Minute), Strategy: "single_platform/dry_run", Total: d("1")},
	}
	c := NewChart(series, t0.Add(time.Hour), ParseChartRange("all"))
	// -$2..$2 in at most 4 intervals: $1 a tick, y = 16 + 53 × (2 − v).
	if len(c.Lines) != 2 || c.Lines[0].Strategy != "cross_platform/dry_run" || c.Lines[1].Class != "series-1" {
		t.Fatalf("lines %+v", c.Lines)
	}
	// Half an hour of an hour is x = 84 + 310 = 394.
	want := "84.00,122.00 394.00,122.00 394.00,228.00 704.00,228.00"
	if c.Lines[0].Points != want {
		t.Errorf("cross points %q, want %q", c.Lines[0].Points, want)
	}
	want = "84.00,122.00 84.00,122.00 84.00,16.00 394.00,16.00 394.00,69.00 704.00,69.00"
	if c.Lines[1].Points != want {
		t.Errorf("single points %q, want %q", c.Lines[1].Points, want)
	}
	if c.Lines[0].Last != "-$2.00" || c.Lines[0].LastSign != "neg" || c.Lines[1].Last != "$1.00" || c.Lines[0].Flat || c.Lines[1].Flat {
		t.Errorf("last totals %+v", c.Lines)
	}
	wantTicks(t, "y", c.YTicks, []Tick{{Pos: "16.00", Label: "$2.00"}, {Pos: "69.00", Label: "$1.00"},
		{Pos: "122.00", Label: "$0.00", Zero: true}, {Pos: "175.00", Label: "-$1.00"}, {Pos: "228.00", Label: "-$2.00"}})
	// An hour in at most 5 intervals (620 / 120): 15 minutes a tick.
	wantTicks(t, "x", c.XTicks, []Tick{{Pos: "84.00", Label: "10:00", Anchor: "start"}, {Pos: "239.00", Label: "10:15", Anchor: "middle"},
		{Pos: "394.00", Label: "10:30", Anchor: "middle"}, {Pos: "549.00", Label: "10:45", Anchor: "middle"}, {Pos: "704.00", Label: "11:00", Anchor: "end"}})
	if !strings.Contains(c.Summary, "Cross-platform arbitrage · dry-run: -$2.00") || c.XTitle != "Time (UTC)" || c.YTitle != "P&L (USD)" {
		t.Errorf("summary %q, titles %q %q", c.Summary, c.XTitle, c.YTitle)
	}
	if len(c.Ranges) != 4 || !c.Ranges[3].Selected || c.Ranges[0].Selected {
		t.Errorf("ranges %+v", c.Ranges)
	}
	if e := NewChart(nil, t0, ParseChartRange("")); !e.Empty || len(e.Lines) != 0 {
		t.Errorf("empty chart %+v", e)
	}
	// A flat $0 series: a $1 range above it in quarters, a minute of time
	// in 15-second ticks.
	flat := NewChart([]PnLPoint{{Time: t0, Strategy: "news_arbitrage/live", Total: polybot.Zero}}, t0, ParseChartRange("all"))
	if len(flat.Lines) != 1 || flat.Lines[0].Points != "84.00,228.00 704.00,228.00" || !flat.Lines[0].Flat {
		t.Errorf("flat chart %+v", flat.Lines)
	}
	if len(flat.YTicks) != 5 || flat.YTicks[0].Label != "$1.00" || flat.YTicks[1].Label != "$0.75" || flat.YTicks[1].Pos != "69.00" {
		t.Errorf("flat y ticks %+v", flat.YTicks)
	}
	if len(flat.XTicks) != 5 || flat.XTicks[0].Label != "10:00:00" || flat.XTicks[1].Label != "10:00:15" {
		t.Errorf("flat x ticks %+v", flat.XTicks)
	}
}

// A range starts each series at its total before the range: it holds its
// value, never drops to zero at the range's edge.
func TestChartRangeEntersEachSeriesAtItsHeldTotal(t *testing.T) {
	d := polybot.MustDecimal
	t8 := time.Date(2026, 1, 2, 8, 0, 0, 0, time.UTC)
	series := []PnLPoint{
		{Time: t8, Strategy: "cross_platform/dry_run", Total: polybot.Zero},
		{Time: t8, Strategy: "locked/dry_run", Total: d("5")},
		{Time: t8.Add(2*time.Hour + 20*time.Minute), Strategy: "locked/dry_run", Total: d("7.5")},
	}
	c := NewChart(series, t8.Add(3*time.Hour), ParseChartRange("1h"))
	// 10:00..11:00. $0..$7.50 in at most 4 intervals: $2 a tick, to $8;
	// y = 16 + 26.5 × (8 − v): $5 at 95.50, $7.50 at 29.25. 10:20 is a
	// third of the way: 84 + 206.66.
	if len(c.Lines) != 2 {
		t.Fatalf("lines %+v", c.Lines)
	}
	if want := "84.00,95.50 290.66,95.50 290.66,29.25 704.00,29.25"; c.Lines[1].Points != want || c.Lines[1].Flat || c.Lines[1].Last != "$7.50" {
		t.Errorf("locked %+v, want points %q", c.Lines[1], want)
	}
	if want := "84.00,228.00 704.00,228.00"; c.Lines[0].Points != want || !c.Lines[0].Flat {
		t.Errorf("cross %+v, want flat points %q", c.Lines[0], want)
	}
	wantTicks(t, "y", c.YTicks, []Tick{{Pos: "16.00", Label: "$8.00"}, {Pos: "69.00", Label: "$6.00"}, {Pos: "122.00", Label: "$4.00"},
		{Pos: "175.00", Label: "$2.00"}, {Pos: "228.00", Label: "$0.00", Zero: true}})
	if !c.Ranges[0].Selected || c.Range.Key != "1h" {
		t.Errorf("range %+v %+v", c.Range, c.Ranges)
	}
	// Seven days in at most 5 intervals: 2-day ticks at UTC midnights of
	// even days since 1970 (2026-01-01 is day 20454).
	week := NewChart(series, time.Date(2026, 1, 8, 12, 0, 0, 0, time.UTC), ParseChartRange("7d"))
	var labels []string
	for _, tk := range week.XTicks {
		labels = append(labels, tk.Label)
	}
	if strings.Join(labels, ",") != "Jan 3,Jan 5,Jan 7" {
		t.Errorf("7-day ticks %v", labels)
	}
	if ParseChartRange("2y").Key != "all" || ParseChartRange("1d").Span != 24*time.Hour {
		t.Error("ParseChartRange")
	}
}

func TestNiceStepsAreTheSmallestRoundStepThatFits(t *testing.T) {
	for _, c := range []struct{ span, want int64 }{
		{4_000_000, 1_000_000}, // $4 in 4: $1
		{7_500_000, 2_000_000}, // $7.50: $1.875 a tick at least, so $2
		{1_000_000, 250_000},   // $1: $0.25
		{30_000, 10_000},       // 3 cents: a cent
		{90_000, 50_000},       // 9 cents: 2.25 cents at least; $0.025 is not whole cents, so $0.05
		{1_000_000_000, 250_000_000},
	} {
		if got := niceMoneyStep(c.span, 4); got != c.want {
			t.Errorf("niceMoneyStep(%d, 4) = %d, want %d", c.span, got, c.want)
		}
	}
	for _, c := range []struct{ span, want time.Duration }{
		{time.Hour, 15 * time.Minute},
		{10 * time.Minute, 2 * time.Minute},
		{7 * 24 * time.Hour, 48 * time.Hour},
		{90 * 24 * time.Hour, 28 * 24 * time.Hour},
	} {
		if got := niceTimeStep(c.span, 5); got != c.want {
			t.Errorf("niceTimeStep(%v, 5) = %v, want %v", c.span, got, c.want)
		}
	}
}

func wantTicks(t *testing.T, axis string, got, want []Tick) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s ticks %+v, want %+v", axis, got, want)
		return
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s tick %d = %+v, want %+v", axis, i, got[i], want[i])
		}
	}
}

// The presets are shares of the plan's limits, worked by hand: a fifth,
// a half and all of them, in whole dollars.
func TestRiskPresetsAreDerivedFromThePlansLimits(t *testing.T) {
	cases := []struct {
		name        string
		trade, loss string
		want        [3][2]string // conservative, balanced, aggressive: trade size, daily loss
		checked     int          // the preset the default config (1%, $50, $100) matches, -1 for none
	}{
		{"free", "50", "100", [3][2]string{{"10.00", "20.00"}, {"25.00", "50.00"}, {"50.00", "100.00"}}, -1},
		{"basic", "250", "500", [3][2]string{{"50.00", "100.00"}, {"125.00", "250.00"}, {"250.00", "500.00"}}, -1},
		{"pro", "1000", "2500", [3][2]string{{"200.00", "500.00"}, {"500.00", "1250.00"}, {"1000.00", "2500.00"}}, -1},
		{"odd", "7", "3", [3][2]string{{"1.00", "1.00"}, {"3.00", "1.00"}, {"7.00", "3.00"}}, -1},
		{"tiny", "0.50", "0", [3][2]string{{"0.50", "0.00"}, {"0.50", "0.00"}, {"0.50", "0.00"}}, -1},
		{"default is balanced", "100", "200", [3][2]string{{"20.00", "40.00"}, {"50.00", "100.00"}, {"100.00", "200.00"}}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := &polybot.Profile{SubscriptionTier: tc.name, MaxTradeSizeUSD: polybot.MustDecimal(tc.trade), MaxDailyLossUSD: polybot.MustDecimal(tc.loss)}
			c := polybot.DefaultConfig(polybot.NewID(), time.Now())
			ps := RiskPresets(c, p)
			for i, w := range tc.want {
				if got := [2]string{ps[i].MaxTradeSizeUSD.String(), ps[i].MaxDailyLossUSD.String()}; got != w {
					t.Errorf("%s preset: trade/loss %v, want %v", ps[i].Name, got, w)
				}
				if ps[i].MaxTradeSizeUSD.Cmp(p.MaxTradeSizeUSD) > 0 || ps[i].MaxDailyLossUSD.Cmp(p.MaxDailyLossUSD) > 0 {
					t.Errorf("%s preset %+v exceeds the plan", ps[i].Name, ps[i])
				}
				if ps[i].Checked != (i == tc.checked) {
					t.Errorf("%s preset checked = %v", ps[i].Name, ps[i].Checked)
				}
			}
			if ps[2].MaxTradeSizeUSD.Cmp(ps[1].MaxTradeSizeUSD) < 0 || ps[1].MaxTradeSizeUSD.Cmp(ps[0].MaxTradeSizeUSD) < 0 {
				t.Errorf("presets do not grow from conservative to aggressive: %+v", ps)
			}
		})
	}
}

func TestOnboardingShowsThePlanBeforeThePlatforms(t *testing.T) {
	now := time.Now()
	p := &polybot.Profile{}
	c := polybot.DefaultConfig(polybot.NewID(), now)
	pm := []polybot.SecretMeta{{Platform: polybot.Polymarket, Paper: true}}
	both := append(pm, polybot.SecretMeta{Platform: polybot.Kalshi})
	accepted := func() { p.AcceptedTermsAt = &now }
	saved := func() { c.UpdatedAt = c.CreatedAt.Add(time.Second) }
	cases := []struct {
		name  string
		setup func()
		keys  []polybot.SecretMeta
		want  int
	}{
		{"terms not accepted", func() {}, nil, StepWelcome},
		{"terms not accepted, keys stored", func() {}, both, StepWelcome},
		{"no keys yet: the plan", accepted, nil, StepPlan},
		{"Polymarket only: the platforms", accepted, pm, StepPlatforms},
		{"both venues: risk", accepted, both, StepRisk},
		{"config saved: risk", saved, nil, StepRisk},
	}
	for _, tc := range cases {
		tc.setup()
		if n := NextOnboardingStep(p, c, tc.keys); n != tc.want {
			t.Errorf("%s: step %d, want %d", tc.name, n, tc.want)
		}
	}
	if OnboardingSteps[StepPlan-1] != "Your plan" || StepPlan >= StepPlatforms || StepPlatforms >= StepRisk {
		t.Errorf("steps %v: the plan must come before the platforms", OnboardingSteps)
	}
}

func TestKeyCardsShowMetadataOnly(t *testing.T) {
	at := time.Now()
	cards := NewKeyCards([]polybot.SecretMeta{{Platform: polybot.Kalshi, Paper: false, Fingerprint: "abc123", ValidationStatus: polybot.ValidationValid, LastValidatedAt: &at}})
	if len(cards) != len(polybot.Platforms) || cards[1].Platform != polybot.Kalshi {
		t.Fatalf("cards %+v", cards)
	}
	k := cards[1]
	if !k.Connected() || !k.Valid() || k.Slots[0].Stored || !k.Slots[1].Stored || k.Slots[1].Mode() != "live" {
		t.Errorf("kalshi card %+v", k)
	}
	if cards[0].Connected() || !cards[0].HasOptional() || !cards[2].Optional {
		t.Errorf("polymarket/alpaca cards %+v %+v", cards[0], cards[2])
	}
}

func TestMonthNameReadsAsAPersonSaysIt(t *testing.T) {
	for in, want := range map[string]string{"2026-12": "December 2026", "2027-01": "January 2027", "soon": "soon"} {
		if got := MonthName(in); got != want {
			t.Errorf("MonthName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSizeGroupsThousandsAndDropsTrailingZeros(t *testing.T) {
	for in, want := range map[string]string{"51": "51", "1103.12": "1,103.12", "0.5": "0.5", "1234567": "1,234,567", "-1500.10": "-1,500.1", "0": "0"} {
		if got := Size(polybot.MustDecimal(in)); got != want {
			t.Errorf("Size(%s) = %q, want %q", in, got, want)
		}
	}
}
