package web

import (
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/polybot/polybot"
)

// PnLPoint is one step of a cumulative realised P&L series: the total of
// Strategy ("cross_platform/dry_run") after a fill at Time.
type PnLPoint struct {
	Time     time.Time
	Strategy string
	Total    polybot.Decimal
}

// Chart geometry, in SVG user units. The page's script reads the same
// numbers from the <svg>'s data attributes when it redraws.
const (
	chartWidth   = 720
	chartHeight  = 260
	chartLeft    = 76
	chartRight   = 16
	chartTop     = 16
	chartBottom  = 32
	chartClasses = 6
)

// Chart is a server-drawn line chart of cumulative P&L by strategy.
type Chart struct {
	Width, Height            int
	Left, Right, Top, Bottom int // the plot area's edges
	MidX, MidY               int // the plot area's centre
	Lines                    []ChartLine
	YTicks                   []Tick
	XTicks                   []Tick
	Empty                    bool
	Summary                  string // the chart in words, for screen readers
}

// ChartLine is one strategy's series.
type ChartLine struct {
	Strategy string
	Label    string
	Class    string // series-0 … series-5
	Points   string // polyline points
	Last     string // the latest total, as USD formats it
	LastSign string // pos, neg or zero
}

// Tick is an axis label at a position: Pos is y for the value axis, x for
// the time axis.
type Tick struct {
	Pos   string
	Label string
	Zero  bool
}

// NewChart draws series (oldest first) from the first point's time to end.
// Coordinates are computed in exact integer arithmetic from the Decimals.
func NewChart(series []PnLPoint, end time.Time) Chart {
	c := Chart{Width: chartWidth, Height: chartHeight, Left: chartLeft, Right: chartWidth - chartRight,
		Top: chartTop, Bottom: chartHeight - chartBottom}
	c.MidX, c.MidY = (c.Left+c.Right)/2, (c.Top+c.Bottom)/2
	if len(series) == 0 {
		c.Empty = true
		c.Summary = "No trades yet."
		c.YTicks = []Tick{{Pos: itoa(c.Bottom), Label: "$0.00", Zero: true}}
		return c
	}
	byKey := map[string][]PnLPoint{}
	var keys []string
	t0, t1 := series[0].Time, series[0].Time
	lo, hi := polybot.Zero, polybot.Zero // the axis always shows 0
	for _, p := range series {
		if _, ok := byKey[p.Strategy]; !ok {
			keys = append(keys, p.Strategy)
		}
		byKey[p.Strategy] = append(byKey[p.Strategy], p)
		if p.Time.Before(t0) {
			t0 = p.Time
		}
		if p.Time.After(t1) {
			t1 = p.Time
		}
		lo, hi = lo.Min(p.Total), hi.Max(p.Total)
	}
	if end.After(t1) {
		t1 = end
	}
	if !t1.After(t0) {
		t1 = t0.Add(time.Minute)
	}
	if lo.Cmp(hi) == 0 {
		hi = lo.Add(polybot.One) // a flat series sits at the bottom of a $1 range
	}
	sort.Strings(keys)
	plotW, plotH := int64(c.Right-c.Left), int64(c.Bottom-c.Top)
	span := big.NewInt(hi.Sub(lo).Micros())
	// y and x return hundredths of a unit.
	y := func(v polybot.Decimal) int64 {
		n := new(big.Int).Mul(big.NewInt(hi.Sub(v).Micros()), big.NewInt(plotH*100))
		return int64(c.Top)*100 + n.Quo(n, span).Int64()
	}
	dt := t1.Sub(t0).Milliseconds()
	x := func(t time.Time) int64 {
		n := new(big.Int).Mul(big.NewInt(t.Sub(t0).Milliseconds()), big.NewInt(plotW*100))
		return int64(c.Left)*100 + n.Quo(n, big.NewInt(dt)).Int64()
	}
	var summary []string
	for i, k := range keys {
		pts := byKey[k]
		var b strings.Builder
		cur := polybot.Zero
		pt := func(px, py int64) {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(hundredths(px) + "," + hundredths(py))
		}
		pt(x(t0), y(cur))
		for _, p := range pts {
			pt(x(p.Time), y(cur))
			cur = p.Total
			pt(x(p.Time), y(cur))
		}
		pt(x(t1), y(cur))
		line := ChartLine{Strategy: k, Label: StrategyLabel(k), Class: "series-" + itoa(i%chartClasses), Points: b.String(),
			Last: USD(cur), LastSign: SignClass(cur)}
		c.Lines = append(c.Lines, line)
		summary = append(summary, line.Label+": "+line.Last)
	}
	c.Summary = "Cumulative P&L (realised by strategy, and locked-in sets) from " + Timestamp(t0) + " to " + Timestamp(t1) + ". " + strings.Join(summary, "; ") + "."
	c.YTicks = append(c.YTicks, Tick{Pos: hundredths(y(hi)), Label: USD(hi), Zero: hi.IsZero()})
	if lo.Sign() < 0 && hi.Sign() > 0 {
		c.YTicks = append(c.YTicks, Tick{Pos: hundredths(y(polybot.Zero)), Label: "$0.00", Zero: true})
	}
	c.YTicks = append(c.YTicks, Tick{Pos: hundredths(y(lo)), Label: USD(lo), Zero: lo.IsZero()})
	layout := "15:04"
	switch span := t1.Sub(t0); {
	case span < time.Hour:
		layout = "15:04:05"
	case span >= 24*time.Hour:
		layout = "Jan 2 15:04"
	}
	mid := t0.Add(t1.Sub(t0) / 2)
	for _, t := range []time.Time{t0, mid, t1} {
		c.XTicks = append(c.XTicks, Tick{Pos: hundredths(x(t)), Label: t.UTC().Format(layout)})
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
