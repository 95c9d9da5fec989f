package web

import (
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/polybot/polybot"
)

// PnLPoint is one step of a cumulative P&L series: the total of Strategy
// ("cross_platform/dry_run", "locked/live") from Time until its next point.
type PnLPoint struct {
	Time     time.Time
	Strategy string
	Total    polybot.Decimal
}

// Chart geometry, in SVG user units. The page's script reads the same
// numbers from the <svg>'s data attributes when it redraws, and draws with
// the same rules (niceMoneyStep, niceTimeStep, steps held between points),
// so at the server's width and in UTC both draw the same picture.
const (
	chartWidth   = 720
	chartHeight  = 280
	chartLeft    = 84
	chartRight   = 16
	chartTop     = 16
	chartBottom  = 52
	chartClasses = 6
	// chartTickSpacing is the least room, in units, an x tick label gets.
	chartTickSpacing = 120
	// chartYIntervals is the most intervals the value axis is cut into.
	chartYIntervals = 4
)

// ChartRange is a time range the chart can show: the last Span before
// now, or everything when Span is 0.
type ChartRange struct {
	Key, Label string
	Span       time.Duration
}

// ChartRanges are the range selector's choices, in the order shown.
var ChartRanges = []ChartRange{
	{"1h", "1 h", time.Hour},
	{"1d", "1 d", 24 * time.Hour},
	{"7d", "7 d", 7 * 24 * time.Hour},
	{"all", "All", 0},
}

// ParseChartRange finds a range by key; anything else is all.
func ParseChartRange(key string) ChartRange {
	for _, r := range ChartRanges {
		if r.Key == key {
			return r
		}
	}
	return ChartRanges[len(ChartRanges)-1]
}

// Chart is a server-drawn step chart of cumulative P&L by series.
type Chart struct {
	Width, Height            int
	Left, Right, Top, Bottom int // the plot area's edges
	MidX, MidY               int // the plot area's centre
	Lines                    []ChartLine
	YTicks                   []Tick
	XTicks                   []Tick
	XTitle, YTitle           string
	Range                    ChartRange
	Ranges                   []RangeChoice
	Empty                    bool
	Summary                  string // the chart in words, for screen readers
}

// RangeChoice is one button of the range selector.
type RangeChoice struct {
	Key, Label string
	Selected   bool
}

// ChartLine is one series, in key order (its colour and dash follow the
// order, so a series keeps its look in every range).
type ChartLine struct {
	Strategy string
	Label    string
	Class    string // series-0 … series-5
	Points   string // polyline points: a step at each change
	Last     string // the total at the range's end, as USD formats it
	LastSign string // pos, neg or zero
	// Flat says the series does not change in the range: it is drawn
	// under the others, so it never hides one.
	Flat bool
}

// Tick is an axis label at a position: Pos is y for the value axis, x for
// the time axis. Anchor is the label's text-anchor (x ticks near the right
// edge end there, so the label stays inside the chart).
type Tick struct {
	Pos    string
	Label  string
	Zero   bool
	Anchor string
}

// niceMoneyStep is the smallest of $0.01, $0.02, $0.05, $0.10, $0.20,
// $0.25, $0.50, $1, $2, $2.50, $5, $10 … (in micros) that cuts span into
// at most n intervals. Every step is whole cents, so tick labels are exact.
func niceMoneyStep(span int64, n int64) int64 {
	need := (span + n - 1) / n
	for p := int64(10_000); p < 1e17; p *= 10 {
		for _, m := range []int64{10, 20, 25, 50} {
			if m == 25 && p == 10_000 {
				continue // $0.025 is not whole cents
			}
			if c := p * m / 10; c >= need {
				return c
			}
		}
	}
	return 1e17
}

// timeSteps are the x axis's tick intervals.
var timeSteps = []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 48 * time.Hour, 7 * 24 * time.Hour}

// niceTimeStep is the smallest time step that cuts span into at most n
// intervals (past a week: whole weeks, doubling).
func niceTimeStep(span time.Duration, n int) time.Duration {
	need := (span + time.Duration(n) - 1) / time.Duration(n)
	for _, s := range timeSteps {
		if s >= need {
			return s
		}
	}
	s := timeSteps[len(timeSteps)-1]
	for s < need {
		s *= 2
	}
	return s
}

// timeLabel formats an x tick for a step within a span, in t's zone.
func timeLabel(t time.Time, step, span time.Duration) string {
	switch {
	case step >= 24*time.Hour:
		return t.Format("Jan 2")
	case span >= 24*time.Hour:
		return t.Format("Jan 2 15:04")
	case step < time.Minute:
		return t.Format("15:04:05")
	}
	return t.Format("15:04")
}

// NewChart draws series (oldest first) over rng, ending at end or the
// last point, whichever is later. A series enters the range at the total
// of its last point before the range (zero if none) and holds each total
// until its next point. Coordinates are exact: integer hundredths of a
// unit from the Decimals' micros and the times' milliseconds.
func NewChart(series []PnLPoint, end time.Time, rng ChartRange) Chart {
	c := Chart{Width: chartWidth, Height: chartHeight, Left: chartLeft, Right: chartWidth - chartRight,
		Top: chartTop, Bottom: chartHeight - chartBottom, XTitle: "Time (UTC)", YTitle: "P&L (USD)", Range: rng}
	c.MidX, c.MidY = (c.Left+c.Right)/2, (c.Top+c.Bottom)/2
	for _, r := range ChartRanges {
		c.Ranges = append(c.Ranges, RangeChoice{Key: r.Key, Label: r.Label, Selected: r.Key == rng.Key})
	}
	if len(series) == 0 {
		c.Empty = true
		c.Summary = "No trades yet."
		c.YTicks = []Tick{{Pos: itoa(c.Bottom), Label: "$0.00", Zero: true}}
		return c
	}
	t0, t1 := series[0].Time, series[0].Time
	for _, p := range series {
		if p.Time.Before(t0) {
			t0 = p.Time
		}
		if p.Time.After(t1) {
			t1 = p.Time
		}
	}
	if end.After(t1) {
		t1 = end
	}
	if rng.Span > 0 {
		t0 = t1.Add(-rng.Span)
	}
	ms0, ms1 := t0.UnixMilli(), t1.UnixMilli()
	if ms1 <= ms0 {
		ms1 = ms0 + time.Minute.Milliseconds()
		t1 = time.UnixMilli(ms1).UTC()
	}

	type line struct {
		start polybot.Decimal
		pts   []PnLPoint // in the range
	}
	byKey := map[string]*line{}
	var keys []string
	lo, hi := polybot.Zero, polybot.Zero // the axis always shows 0
	for _, p := range series {
		l := byKey[p.Strategy]
		if l == nil {
			l = &line{}
			byKey[p.Strategy] = l
			keys = append(keys, p.Strategy)
		}
		if p.Time.UnixMilli() < ms0 {
			l.start = p.Total
			continue
		}
		l.pts = append(l.pts, p)
		lo, hi = lo.Min(p.Total), hi.Max(p.Total)
	}
	for _, l := range byKey {
		lo, hi = lo.Min(l.start), hi.Max(l.start)
	}
	if lo.Cmp(hi) == 0 {
		hi = lo.Add(polybot.One) // a flat chart gets a $1 range above it
	}
	step := polybot.DecimalFromMicros(niceMoneyStep(hi.Sub(lo).Micros(), chartYIntervals))
	lo, hi = lo.Floor(step), hi.Ceil(step)
	sort.Strings(keys)

	plotW, plotH := int64(c.Right-c.Left), int64(c.Bottom-c.Top)
	span := big.NewInt(hi.Sub(lo).Micros())
	// y and x return hundredths of a unit, rounded down.
	y := func(v polybot.Decimal) int64 {
		n := new(big.Int).Mul(big.NewInt(hi.Sub(v).Micros()), big.NewInt(plotH*100))
		return int64(c.Top)*100 + n.Quo(n, span).Int64()
	}
	dt := big.NewInt(ms1 - ms0)
	x := func(ms int64) int64 {
		n := new(big.Int).Mul(big.NewInt(ms-ms0), big.NewInt(plotW*100))
		return int64(c.Left)*100 + n.Quo(n, dt).Int64()
	}

	var summary []string
	for i, k := range keys {
		l := byKey[k]
		var b strings.Builder
		pt := func(px, py int64) {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(hundredths(px) + "," + hundredths(py))
		}
		cur, flat := l.start, true
		pt(x(ms0), y(cur))
		for _, p := range l.pts {
			if p.Total == cur {
				continue
			}
			flat = false
			px := x(p.Time.UnixMilli())
			pt(px, y(cur))
			cur = p.Total
			pt(px, y(cur))
		}
		pt(x(ms1), y(cur))
		cl := ChartLine{Strategy: k, Label: StrategyLabel(k), Class: "series-" + itoa(i%chartClasses), Points: b.String(),
			Last: USD(cur), LastSign: SignClass(cur), Flat: flat}
		c.Lines = append(c.Lines, cl)
		summary = append(summary, cl.Label+": "+cl.Last)
	}
	c.Summary = "Cumulative P&L (realised by strategy, and locked-in sets) from " + Timestamp(t0) + " to " + Timestamp(t1) +
		". " + strings.Join(summary, "; ") + "."

	for v := hi; v.Cmp(lo) >= 0; v = v.Sub(step) {
		c.YTicks = append(c.YTicks, Tick{Pos: hundredths(y(v)), Label: USD(v), Zero: v.IsZero()})
	}
	n := max(3, int(plotW)/chartTickSpacing)
	tstep := niceTimeStep(time.Duration(ms1-ms0)*time.Millisecond, n).Milliseconds()
	for ms := (ms0 + tstep - 1) / tstep * tstep; ms <= ms1; ms += tstep {
		px := x(ms)
		anchor := "middle"
		if px > int64(c.Right-chartTickSpacing/3)*100 {
			anchor = "end"
		} else if px < int64(c.Left+chartTickSpacing/3)*100 {
			anchor = "start"
		}
		c.XTicks = append(c.XTicks, Tick{Pos: hundredths(px), Anchor: anchor,
			Label: timeLabel(time.UnixMilli(ms).UTC(), time.Duration(tstep)*time.Millisecond, time.Duration(ms1-ms0)*time.Millisecond)})
	}
	return c
}

func itoa(n int) string { return strconv.Itoa(n) }

// hundredths formats n/100 with two decimals.
func hundredths(n int64) string {
	s := ""
	if n < 0 {
		s, n = "-", -n
	}
	return s + strconv.FormatInt(n/100, 10) + "." + twoDigits(n%100)
}
