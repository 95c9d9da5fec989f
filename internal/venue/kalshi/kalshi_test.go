package kalshi

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/fee"
)

var d = polybot.MustDecimal

func TestScheduleForPrefersTheEventOverride(t *testing.T) {
	m := d("0.5")
	s := Series{FeeType: fee.KalshiQuadratic, FeeMultiplier: polybot.One}
	if got := ScheduleFor(s, &Event{FeeTypeOverride: fee.KalshiQuadraticWithMakerFees, FeeMultiplierOverride: &m}); got.Type != fee.KalshiQuadraticWithMakerFees || got.Multiplier != m {
		t.Fatalf("override ignored: %+v", got)
	}
	if got := ScheduleFor(s, &Event{}); got.Type != fee.KalshiQuadratic || got.Multiplier != polybot.One {
		t.Fatalf("series schedule lost: %+v", got)
	}
}

func TestSeriesFeeMultiplierDecodesExactlyFromAJSONNumber(t *testing.T) {
	var s Series
	if err := json.Unmarshal([]byte(`{"ticker":"KXINX","fee_type":"quadratic","fee_multiplier":0.035}`), &s); err != nil {
		t.Fatal(err)
	}
	if s.FeeMultiplier != d("0.035") {
		t.Fatalf("multiplier = %s", s.FeeMultiplier)
	}
}

func newTestKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSignerSignsTimestampMethodAndPathWithoutQuery(t *testing.T) {
	k := newTestKey(t)
	s := NewSigner("kid", NewPrivateKey(k), func() time.Time { return time.UnixMilli(1703123456789) })
	h := http.Header{}
	if err := s.SetHeaders(h, "get", "/trade-api/v2/portfolio/orders?limit=5"); err != nil {
		t.Fatal(err)
	}
	if h.Get(HeaderKey) != "kid" || h.Get(HeaderTimestamp) != "1703123456789" {
		t.Fatalf("headers = %v", h)
	}
	if got := SignatureMessage(1703123456789, "get", "/trade-api/v2/portfolio/orders?limit=5"); got != "1703123456789GET/trade-api/v2/portfolio/orders" {
		t.Fatalf("message = %q", got)
	}
	if err := VerifySignature(&k.PublicKey, 1703123456789, "GET", "/trade-api/v2/portfolio/orders", h.Get(HeaderSignature)); err != nil {
		t.Fatalf("signature does not verify: %v", err)
	}
	if VerifySignature(&k.PublicKey, 1703123456789, "POST", "/trade-api/v2/portfolio/orders", h.Get(HeaderSignature)) == nil {
		t.Fatal("a signature verified for another method")
	}
}

func TestParsePrivateKeyReadsPKCS1AndPKCS8AndRefusesTheRest(t *testing.T) {
	k := newTestKey(t)
	p8, _ := x509.MarshalPKCS8PrivateKey(k)
	pub, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	cases := []struct {
		name string
		pem  []byte
		ok   bool
	}{
		{"PKCS#1", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), true},
		{"PKCS#8", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}), true},
		{"a public key", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), false},
		{"not PEM", []byte("hello"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePrivateKey(tc.pem)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && strings.Contains(err.Error(), "MII") {
				t.Fatal("the error quotes key material")
			}
		})
	}
}

func TestPrivateKeyNeverPrints(t *testing.T) {
	k := newTestKey(t)
	pk := NewPrivateKey(k)
	signer := NewSigner("kid", pk, nil)
	secret := k.D.String()[:12]
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "key", pk, "signer", signer)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "key", pk, "signer", signer)
	js, _ := json.Marshal(struct{ K *PrivateKey }{pk})
	outs := []string{logs.String(), string(js)}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		outs = append(outs, fmt.Sprintf(verb, pk), fmt.Sprintf(verb, signer), fmt.Sprintf(verb, *pk))
	}
	for _, o := range outs {
		if strings.Contains(o, secret) || strings.Contains(o, fmt.Sprintf("%x", k.D.Bytes()[:6])) {
			t.Fatalf("key material printed: %s", o)
		}
	}
	if !strings.Contains(fmt.Sprintf("%v", pk), "REDACTED") {
		t.Fatal("redaction marker missing")
	}
}

func TestKalshiFixedPointStringsParseExactlyAndFormatBack(t *testing.T) {
	cases := []struct {
		in   string
		want string
		ok   bool
	}{
		{"0.5600", "0.56", true},
		{"-54.00", "-54", true},
		{"10", "10", true},
		{".5", "0.5", true},
		{"0.12345600", "0.123456", true},
		{"0.1234567", "", false},
		{"1e3", "", false},
		{"", "", false},
		{"-", "", false},
	}
	for _, tc := range cases {
		got, err := polybot.ParseDecimalBytes([]byte(tc.in))
		if (err == nil) != tc.ok || (tc.ok && got != d(tc.want)) {
			t.Fatalf("ParseDecimalBytes(%q) = %s, %v; want %s ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	if s, err := formatFixed(d("0.56"), 4); err != nil || s != "0.5600" {
		t.Fatalf("formatFixed = %q, %v", s, err)
	}
	if _, err := formatFixed(d("1.005"), 2); err == nil {
		t.Fatal("a count with three places was formatted")
	}
}

func TestDecodeDeltaReadsAnyFieldOrderAndSkipsUnknownFields(t *testing.T) {
	msgs := []string{
		`{"type":"orderbook_delta","sid":2,"seq":3,"msg":{"market_ticker":"KX-A","market_id":"9b0f","price_dollars":"0.6800","delta_fp":"-54.00","side":"yes","ts":"2026-04-13T08:07:01Z","ts_ms":1776067621000}}`,
		`{"msg":{"extra":{"nested":[1,{"a":"}"}]},"side":"yes","delta_fp":"-54.00","price_dollars":"0.6800","market_ticker":"KX-A","ts_ms":1776067621000},"seq":3,"sid":2,"type":"orderbook_delta"}`,
		"{ \"type\" : \"orderbook_delta\" , \"sid\" : 2 , \"seq\" : 3 , \"msg\" : { \"market_ticker\" : \"KX-\\u0041\" , \"price_dollars\" : \"0.68\" , \"delta_fp\" : \"-54\" , \"side\" : \"yes\" , \"ts_ms\" : 1776067621000 , \"client_order_id\" : null } }",
	}
	for i, m := range msgs {
		var env envelope
		var dm deltaMsg
		if err := decodeEnvelope([]byte(m), &env); err != nil {
			t.Fatalf("%d: envelope: %v", i, err)
		}
		if string(env.Type) != "orderbook_delta" || env.Sid != 2 || env.Seq != 3 {
			t.Fatalf("%d: envelope = %+v", i, env)
		}
		if err := decodeDelta(env.Msg, &dm); err != nil {
			t.Fatalf("%d: delta: %v", i, err)
		}
		if string(dm.Ticker) != "KX-A" || dm.Price != d("0.68") || dm.Delta != d("-54") || dm.Side != 'y' || dm.TsMs != 1776067621000 {
			t.Fatalf("%d: delta = %+v", i, dm)
		}
	}
	for _, bad := range []string{
		`{"market_ticker":"KX","price_dollars":"0.5","delta_fp":"1","side":"maybe"}`,
		`{"market_ticker":"KX","delta_fp":"1","side":"yes"}`,
		`{"market_ticker":"KX","price_dollars":"0.5","delta_fp":"1","side":"yes"`,
		`[1,2]`,
	} {
		var dm deltaMsg
		if decodeDelta([]byte(bad), &dm) == nil {
			t.Fatalf("accepted %s", bad)
		}
	}
}

func TestLaddersConvertBidsOnlyIntoBothInstrumentsExactly(t *testing.T) {
	ob := &OrderbookFP{
		YesDollars: [][2]polybot.Decimal{{d("0.4900"), d("100")}, {d("0.5000"), d("4024")}},
		NoDollars:  [][2]polybot.Decimal{{d("0.4700"), d("12.5")}, {d("0.4800"), d("26176")}},
	}
	yes, no := BookEvents("KX", ob, time.Unix(0, 0))
	want := func(ls []polybot.Level, s ...string) {
		t.Helper()
		if len(ls) != len(s)/2 {
			t.Fatalf("levels = %v, want %v", ls, s)
		}
		for i := range ls {
			if ls[i].Price != d(s[2*i]) || ls[i].Size != d(s[2*i+1]) {
				t.Fatalf("levels = %v, want %v", ls, s)
			}
		}
	}
	want(yes.Bids, "0.50", "4024", "0.49", "100")
	want(yes.Asks, "0.52", "26176", "0.53", "12.5")
	want(no.Bids, "0.48", "26176", "0.47", "12.5")
	want(no.Asks, "0.50", "4024", "0.51", "100")
	if yes.Instrument.Outcome != polybot.Yes || no.Instrument.Outcome != polybot.No || yes.Kind != polybot.BookSnapshot {
		t.Fatal("wrong instruments or kind")
	}
	l := newLadders()
	l.reset(ob.YesDollars, ob.NoDollars)
	if s, ok := l.apply('n', d("0.48"), d("-26176")); !ok || !s.IsZero() {
		t.Fatalf("removing a level: %s %v", s, ok)
	}
	if _, ok := l.apply('y', d("0.10"), d("-1")); ok {
		t.Fatal("a negative level was accepted")
	}
}

func TestToBookMapsEveryOutcomeAndSideOntoTheYesBook(t *testing.T) {
	cases := []struct {
		o     polybot.Outcome
		s     polybot.Side
		price string
		side  string
		yes   string
	}{
		{polybot.Yes, polybot.Buy, "0.55", "bid", "0.55"},
		{polybot.Yes, polybot.Sell, "0.55", "ask", "0.55"},
		{polybot.No, polybot.Buy, "0.30", "ask", "0.70"},
		{polybot.No, polybot.Sell, "0.30", "bid", "0.70"},
	}
	for _, tc := range cases {
		side, p := toBook(tc.o, tc.s, d(tc.price))
		if side != tc.side || p != d(tc.yes) {
			t.Fatalf("%v %v at %s -> %s %s, want %s %s", tc.s, tc.o, tc.price, side, p, tc.side, tc.yes)
		}
	}
}

func TestPlaceOrderRefusesWhatKalshiCannotTakeBeforeSending(t *testing.T) {
	x := &Exchange{}
	yes, _ := Instruments("KX")
	good := polybot.OrderRequest{ClientOrderID: "c", Instrument: yes, Price: d("0.5"), Size: d("1"), TIF: polybot.GTC}
	cases := []struct {
		name string
		mod  func(*polybot.OrderRequest)
	}{
		{"no client order id", func(r *polybot.OrderRequest) { r.ClientOrderID = "" }},
		{"a price of one dollar", func(r *polybot.OrderRequest) { r.Price = polybot.One }},
		{"a price with five places", func(r *polybot.OrderRequest) { r.Price = d("0.12345") }},
		{"a count with three places", func(r *polybot.OrderRequest) { r.Size = d("1.001") }},
		{"a Polymarket instrument", func(r *polybot.OrderRequest) { r.Instrument.Venue = polybot.Polymarket }},
		{"GTD without expiry", func(r *polybot.OrderRequest) { r.TIF = polybot.GTD }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := good
			tc.mod(&r)
			if _, err := x.PlaceOrder(t.Context(), r); polybot.ErrorCode(err) != polybot.EINVALID {
				t.Fatalf("err = %v, want invalid", err)
			}
		})
	}
}
