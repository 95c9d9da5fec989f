package engine

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

// TestGrantEncoderMatchesEncodingJSON checks the gateway's grant encoder
// against encoding/json on grants with every field set, with awkward
// strings, and with the fields left empty; and that Grant has no field the
// encoder does not write.
func TestGrantEncoderMatchesEncodingJSON(t *testing.T) {
	var fields []string
	for f := range reflect.TypeFor[Grant]().Fields() {
		fields = append(fields, f.Name)
	}
	if want := []string{"ID", "Origin", "Tenant", "Opportunity", "Group", "At", "Sets", "Legs", "Headline", "HeadlineID"}; !reflect.DeepEqual(fields, want) {
		t.Fatalf("Grant's fields are %v, the encoder writes %v: teach grantEncoder the change", fields, want)
	}
	at := time.Date(2026, 12, 6, 4, 10, 0, 123456700, time.UTC)
	o := deepOpportunity()
	o.ID, o.PairID, o.DetectedAt, o.Direct, o.Target = "op00ab", "pair-1", at, true, d("0.61")
	o.Legs[0].QuoteTime = at.Add(-time.Millisecond)
	full := Grant{ID: 42, Origin: "gw-1", Tenant: polybot.NewID(), Opportunity: *o, Group: 1<<63 + 5, At: at, Sets: d("5.26"),
		Legs:     []GrantLeg{{Instrument: o.Legs[0].Instrument, Price: d("0.45"), Size: d("5.26")}, {Instrument: pmNo, Price: d("0.5"), Size: d("5.26")}},
		Headline: at.Add(-time.Second), HeadlineID: "story-7"}
	odd := full
	odd.Origin, odd.HeadlineID = "gw <&> \"é\"\n", "\u2028x\\"
	odd.Legs = append([]GrantLeg(nil), full.Legs...)
	odd.Legs[1].Instrument = polybot.Instrument{Venue: polybot.Kalshi, Market: "KX-1", Outcome: polybot.No} // not the opportunity's leg
	bare := Grant{Tenant: full.Tenant}
	var enc grantEncoder
	for _, c := range []struct {
		name string
		g    Grant
	}{{"every field", full}, {"awkward strings, a leg of its own", odd}, {"empty", bare}, {"every field again (cached)", full}} {
		t.Run(c.name, func(t *testing.T) {
			want, err := json.Marshal(grantMsg{Grant: c.g})
			if err != nil {
				t.Fatal(err)
			}
			got, err := enc.encode([]byte("prefix"), &c.g)
			if err != nil {
				t.Fatal(err)
			}
			if got, ok := bytes.CutPrefix(got, []byte("prefix")); !ok || !bytes.Equal(got, want) {
				t.Errorf("encoded\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// BenchmarkGrantEncode is one grant's message, as the gateway's sender
// writes it, against encoding/json.
func BenchmarkGrantEncode(b *testing.B) {
	o := deepOpportunity()
	o.ID, o.DetectedAt = "op1", time.Now()
	g := Grant{ID: 1, Origin: "gw-1", Tenant: polybot.NewID(), Opportunity: *o, At: time.Now(), Sets: d("5.26"),
		Legs: []GrantLeg{{Instrument: o.Legs[0].Instrument, Price: d("0.45"), Size: d("5.26")}, {Instrument: o.Legs[1].Instrument, Price: d("0.5"), Size: d("5.26")}}}
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(grantMsg{Grant: g}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("grantEncoder", func(b *testing.B) {
		var enc grantEncoder
		b.ReportAllocs()
		for b.Loop() {
			if _, err := enc.encode(nil, &g); err != nil {
				b.Fatal(err)
			}
		}
	})
}
