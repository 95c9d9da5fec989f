package engine

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/polybot/polybot"
)

// scrape gathers x through a pedantic registry (which checks descriptors,
// label consistency and duplicate series) and returns every sample as
// `name{k="v",…}` → value.
func scrape(t *testing.T, x prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(x)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(ls)
			key := f.GetName() + "{" + strings.Join(ls, ",") + "}"
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

func TestMetricsBoundTenantLabelsAndKeepPerTenantCountersMonotonic(t *testing.T) {
	r := newRig(t)
	r.testHubs(polybot.Polymarket)
	met := NewMetrics(3)
	m := r.start(Config{Universe: pmUniverse(), TopTenants: 3, Observer: met})
	met.Watch(m)
	eventually(t, "the dispatcher subscribes", func() bool { return m.Snapshot().HubSubscriptions == 1 })
	var ts []*tenant
	for i := range 10 {
		tn := m.tenant(polybot.NewID())
		tn.c.intents.Add(int64(i + 1))
		tn.addPnL(polybot.StrategySinglePlatform, d("1.5"))
		ts = append(ts, tn)
	}
	first := scrape(t, met)
	if got := first[`polybot_bot_intents_total{tenant="other"}`]; got != 1+2+3+4+5+6+7 {
		t.Fatalf("other's intents %v, want 28", got)
	}
	if got := first[`polybot_bot_realized_pnl_dollars{strategy="single_platform",tenant="other"}`]; got != 10.5 {
		t.Fatalf("other's P&L %v, want 10.5", got)
	}
	if got := first[`polybot_bot_intents_total{tenant="`+ts[9].id.String()+`"}`]; got != 10 {
		t.Fatalf("the most active tenant's intents %v, want 10", got)
	}
	if first["polybot_engine_hub_subscriptions{}"] != 1 {
		t.Fatalf("hub subscriptions %v", first["polybot_engine_hub_subscriptions{}"])
	}

	// The least active tenants become the most active: under a top-N
	// ranking the labelled set would change and "other" would fall.
	for _, tn := range ts[:5] {
		tn.c.intents.Add(100)
	}
	m.tenant(polybot.NewID()).c.fills.Add(1000) // a newcomer, busier than all
	second := scrape(t, met)
	for k, v := range first {
		if strings.HasSuffix(strings.SplitN(k, "{", 2)[0], "_total") && second[k] < v {
			t.Errorf("counter %s went from %v to %v", k, v, second[k])
		}
	}
	if got := second[`polybot_bot_intents_total{tenant="other"}`]; got != 28+500 {
		t.Fatalf("other's intents %v, want 528", got)
	}
	if got := second[`polybot_bot_fills_total{tenant="other"}`]; got != 1000 {
		t.Fatalf("the newcomer's fills are not in other: %v", got)
	}
	tenants := map[string]bool{}
	for k := range second {
		if i := strings.Index(k, `tenant="`); i >= 0 {
			tenants[strings.SplitN(k[i+8:], `"`, 2)[0]] = true
		}
	}
	if len(tenants) != 4 || !tenants["other"] {
		t.Fatalf("tenant label values %v, want 3 + other", tenants)
	}
}

func TestMetricsTimeTickToOrderOnTheExecutionPath(t *testing.T) {
	r := newRig(t)
	r.testHubs(polybot.Polymarket)
	id := r.user(polybot.TierFree, nil)
	met := NewMetrics(0)
	m := r.start(Config{Universe: pmUniverse(), Observer: met})
	met.Watch(m)
	r.waitRunning(id)
	r.book(pmYes, []polybot.Level{lv("0.44", "80")}, []polybot.Level{lv("0.45", "100")})
	r.book(pmNo, []polybot.Level{lv("0.49", "80")}, []polybot.Level{lv("0.50", "100")})
	eventually(t, "both legs' fills are recorded", func() bool { return len(r.fills(id)) == 2 })
	if n := scrape(t, met)["polybot_engine_tick_to_order_seconds{}"]; n != 1 {
		t.Fatalf("%v tick-to-order observations, want 1 (one opportunity executed)", n)
	}
}
