package polybot_test

import (
	"encoding/json"
	"testing"

	"github.com/polybot/polybot"
)

func TestParseDecimalIsExact(t *testing.T) {
	tests := []struct {
		in     string
		micros int64
		out    string
	}{
		{"0", 0, "0.00"},
		{"50", 50_000_000, "50.00"},
		{"49.99", 49_990_000, "49.99"},
		{"-1.25", -1_250_000, "-1.25"},
		{"0.000001", 1, "0.000001"},
		{"0.0001", 100, "0.0001"},
		{".5", 500_000, "0.50"},
		{"+3", 3_000_000, "3.00"},
		{"1.1000000", 1_100_000, "1.10"},
		{"9223372036854.775807", 9223372036854775807, "9223372036854.775807"},
	}
	for _, tt := range tests {
		d, err := polybot.ParseDecimal(tt.in)
		if err != nil {
			t.Fatalf("ParseDecimal(%q): %v", tt.in, err)
		}
		if d.Micros() != tt.micros || d.String() != tt.out {
			t.Errorf("ParseDecimal(%q) = %d µ (%s), want %d µ (%s)", tt.in, d.Micros(), d, tt.micros, tt.out)
		}
	}
}

func TestParseDecimalRejectsWhatItCannotHoldExactly(t *testing.T) {
	for _, in := range []string{"", "-", ".", "1e3", "abc", "1.0000001", "1.2.3", "NaN", "9223372036855", "1,5", " 1"} {
		if d, err := polybot.ParseDecimal(in); err == nil {
			t.Errorf("ParseDecimal(%q) = %s, want an error", in, d)
		}
	}
}

func TestParseDecimalBytesAgreesWithParseDecimalWithoutAllocating(t *testing.T) {
	for _, in := range []string{"0", "49.99", "-1.25", ".5", "+3", "1.1000000", "0.12345600",
		"9223372036854.775807", "", "-", "1e3", "1.0000001", "9223372036855", " 1",
		"000000000000000000000000000000001", "0.5000000000000000000000000000000"} {
		want, wantErr := polybot.ParseDecimal(in)
		got, err := polybot.ParseDecimalBytes([]byte(in))
		if got != want || (err == nil) != (wantErr == nil) {
			t.Errorf("ParseDecimalBytes(%q) = %s, %v; ParseDecimal = %s, %v", in, got, err, want, wantErr)
		}
	}
	b := []byte(`"0.5600"`)[1:7]
	if n := testing.AllocsPerRun(100, func() { _, _ = polybot.ParseDecimalBytes(b) }); n != 0 {
		t.Fatalf("ParseDecimalBytes allocates %v times", n)
	}
}

func TestDecimalArithmeticIsExact(t *testing.T) {
	m := polybot.MustDecimal
	// 0.1 + 0.2 is exactly 0.3, unlike float64.
	if got := m("0.1").Add(m("0.2")); got != m("0.3") {
		t.Errorf("0.1+0.2 = %s", got)
	}
	tests := []struct{ a, b, want string }{
		{"0.45", "100", "45.00"},
		{"0.07", "0.25", "0.0175"},
		{"-0.5", "0.5", "-0.25"},
		{"0.000001", "0.5", "0.00"}, // truncated toward zero
		{"123456.789", "1000", "123456789.00"},
	}
	for _, tt := range tests {
		if got := m(tt.a).Mul(m(tt.b)); got.String() != tt.want {
			t.Errorf("%s×%s = %s, want %s", tt.a, tt.b, got, tt.want)
		}
	}
	if m("1").Sub(m("0.97")).String() != "0.03" {
		t.Error("1-0.97 != 0.03")
	}
}

func TestDecimalJSONIsAStringAndAcceptsNumbers(t *testing.T) {
	b, _ := json.Marshal(struct{ X polybot.Decimal }{polybot.MustDecimal("0.1")})
	if string(b) != `{"X":"0.10"}` {
		t.Errorf("marshal = %s", b)
	}
	var v struct{ X polybot.Decimal }
	for _, in := range []string{`{"X":0.1}`, `{"X":"0.1"}`} {
		if err := json.Unmarshal([]byte(in), &v); err != nil || v.X != polybot.MustDecimal("0.1") {
			t.Errorf("unmarshal %s = %s, %v", in, v.X, err)
		}
	}
	if err := json.Unmarshal([]byte(`{"X":1e400}`), &v); err == nil {
		t.Error("1e400 accepted")
	}
}

func TestIDRoundTrip(t *testing.T) {
	id := polybot.NewID()
	got, err := polybot.ParseID(id.String())
	if err != nil || got != id {
		t.Fatalf("round trip %s -> %s, %v", id, got, err)
	}
	if id.String()[14] != '4' {
		t.Errorf("not a v4 UUID: %s", id)
	}
	for _, bad := range []string{"", "not-a-uuid", "00000000-0000-0000-0000-00000000000g", "0000000000000000000000000000000000000"} {
		if _, err := polybot.ParseID(bad); err == nil {
			t.Errorf("ParseID(%q) accepted", bad)
		}
	}
}
