package wire_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venue/wire"
)

// members walks an object with the scanner, nested arrays of objects
// included, and flattens what it read to "key=text" strings.
func members(b []byte) ([]string, error) {
	var out []string
	it := wire.ObjectAt(b, 0)
	for it.Next() {
		key := string(it.Key())
		if it.At() < len(b) && b[it.At()] == '[' {
			arr := wire.ArrayAt(b, it.At())
			for arr.Next() {
				o := arr.Object()
				for o.Next() {
					out = append(out, key+"."+string(o.Key())+"="+string(o.Text()))
				}
				arr.SeekPast(&o)
			}
			if arr.Err() != nil {
				return out, arr.Err()
			}
			it.Seek(arr.At())
			continue
		}
		out = append(out, key+"="+string(it.Text()))
	}
	return out, it.Err()
}

func TestScannerReadsMembersInPlaceInAnyLayout(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
		bad  bool
	}{
		{name: "flat", in: `{"a":"x","b":1,"c":true}`, want: []string{"a=x", "b=1", "c=true"}},
		{name: "spaces everywhere", in: " { \"a\" : \"x\" ,\n\t\"b\" : -2 } ", want: []string{"a=x", "b=-2"}},
		{name: "null is no text", in: `{"a":null,"b":"y"}`, want: []string{"a=", "b=y"}},
		{name: "escapes are decoded", in: `{"t":"KX-\u0041\"q\\"}`, want: []string{`t=KX-A"q\`}},
		{name: "nested values are skipped whole", in: `{"x":{"y":[1,{"z":"}]"}]},"a":"b"}`, want: []string{`x={"y":[1,{"z":"}]"}]}`, "a=b"}},
		{name: "arrays of objects", in: `{"bids":[{"price":"0.5","size":"10"},{"price":".48"}],"e":"book"}`,
			want: []string{"bids.price=0.5", "bids.size=10", "bids.price=.48", "e=book"}},
		{name: "an empty array", in: `{"bids":[],"e":"x"}`, want: []string{"e=x"}},
		{name: "empty", in: `{}`},
		{name: "truncated", in: `{"a":"x"`, bad: true},
		{name: "an unterminated string", in: `{"a":"x}`, bad: true},
		{name: "no colon", in: `{"a" "x"}`, bad: true},
		{name: "a trailing comma", in: `{"a":1,}`, bad: true},
		{name: "not an object", in: `[1]`, bad: true},
		{name: "a broken nested array", in: `{"bids":[{"price":"1"} {"price":"2"}]}`, bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := members([]byte(tt.in))
			if tt.bad {
				if !errors.Is(err, wire.ErrMalformed) {
					t.Fatalf("got %q, %v; want ErrMalformed", got, err)
				}
				return
			}
			if err != nil || len(got) != len(tt.want) {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %q, want %q", got, tt.want)
				}
			}
		})
	}
}

func TestScannerValueReadersParseExactly(t *testing.T) {
	tests := []struct {
		read, in, want string // want "error": the value, and so the message, is refused
	}{
		{"int", `1776067621000`, "1776067621000"},
		{"int", `-54`, "-54"},
		{"int", `1.5`, "error"},
		{"int", `1e3`, "error"},
		{"decimal", `"0.5600"`, "0.56"},
		{"decimal", `0.25`, "0.25"},
		{"decimal", `".48"`, "0.48"},
		{"decimal", `"1.0000001"`, "error"},
		{"decimal", `"1e-2"`, "error"},
		{"decimal", `null`, "error"},
	}
	for _, tt := range tests {
		b := []byte(`{"v":` + tt.in + `,"w":1}`)
		it := wire.ObjectAt(b, 0)
		it.Next()
		var got string
		var err error
		if tt.read == "int" {
			var n int64
			n, err = it.Int()
			got = strconv.FormatInt(n, 10)
		} else {
			var d polybot.Decimal
			d, err = it.Decimal()
			got = d.String()
		}
		if err != nil {
			got = "error"
			if !errors.Is(err, wire.ErrMalformed) {
				t.Errorf("%s: %v does not wrap ErrMalformed", tt.in, err)
			}
			if it.Next() {
				t.Errorf("%s: the walk goes on after a bad value", tt.in)
			}
		}
		if got != tt.want {
			t.Errorf("%s as %s: %s, want %s", tt.in, tt.read, got, tt.want)
		}
	}
	if wire.UnixTime([]byte("1757908892351")) != time.UnixMilli(1757908892351) ||
		wire.UnixTime([]byte("1757908892")) != time.Unix(1757908892, 0) ||
		!wire.UnixTime([]byte("17x")).IsZero() || !wire.UnixTime(nil).IsZero() {
		t.Error("UnixTime reads milliseconds, seconds, and nothing else")
	}
}

func TestScannerDoesNotAllocate(t *testing.T) {
	b := []byte(`{"event_type":"price_change","market":"0xm","price_changes":[{"asset_id":"t1","price":"0.5","size":"200","side":"BUY"},` +
		`{"asset_id":"t2","price":"0.49","size":"0","side":"SELL"}],"timestamp":"1757908892351","n":3}`)
	var sum polybot.Decimal
	n := testing.AllocsPerRun(200, func() {
		it := wire.ObjectAt(b, 0)
		for it.Next() {
			switch string(it.Key()) {
			case "price_changes":
				arr := wire.ArrayAt(b, it.At())
				for arr.Next() {
					o := arr.Object()
					for o.Next() {
						if string(o.Key()) == "price" {
							d, _ := o.Decimal()
							sum = sum.Add(d)
						} else {
							o.Skip()
						}
					}
					arr.SeekPast(&o)
				}
				it.Seek(arr.At())
			case "n":
				_, _ = it.Int()
			case "timestamp":
				_ = wire.UnixTime(it.Text())
			default:
				it.Skip()
			}
		}
	})
	if n != 0 || sum.IsZero() {
		t.Fatalf("%v allocations a walk (sum %s)", n, sum)
	}
}

// FuzzScanner: any input is walked without a panic, every key and value is
// a span of the input (or an unquoted copy of one), and the end is never
// past the input.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{`{"a":"x","b":[{"c":1}],"d":null}`, `{"t":"\u0041"}`, `{`, `{"a":[`, `[]`, `{"a":"\"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = members(b)
		it := wire.ObjectAt(b, 0)
		for it.Next() {
			it.Skip()
		}
		if it.At() > len(b) {
			t.Fatalf("%q: end %d past the input", b, it.At())
		}
	})
}
