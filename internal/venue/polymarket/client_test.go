package polymarket

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

func TestVenueAnswersBecomeVenueErrors(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		mutating   bool
		wantMsg    string
		wantRetry  time.Duration
		wantUnknwn bool
	}{
		{name: "the venue's error body gives the message", status: 400, body: `{"error":"not enough balance / allowance"}`, wantMsg: "not enough balance / allowance"},
		{name: "401 is unauthorized", status: 401, body: `{"error":"Unauthorized/Invalid api key"}`, wantMsg: "Unauthorized/Invalid api key"},
		{name: "429 with delay seconds", status: 429, header: map[string]string{"Retry-After": "7"}, body: `{"error":"Too Many Requests"}`, wantMsg: "Too Many Requests", wantRetry: 7 * time.Second},
		{name: "429 without Retry-After backs off a second", status: 429, body: `Too Many Requests`, wantMsg: "Too Many Requests", wantRetry: time.Second},
		{name: "503 on an order post is an unknown outcome", status: 503, body: `{"error":"Trading is currently disabled. Check polymarket.com for updates"}`, mutating: true, wantMsg: "Trading is currently disabled. Check polymarket.com for updates", wantUnknwn: true},
		{name: "500 on a read is a plain failure", status: 500, body: `{}`, wantMsg: "{}"},
		{name: "a non-string error field is kept as JSON", status: 400, body: `{"error":{"reason":"x"}}`, wantMsg: `{"reason":"x"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			c := NewClient(Config{CLOBURL: srv.URL})
			err := c.do(context.Background(), request{method: http.MethodPost, base: srv.URL, path: "/order", mutating: tt.mutating}, nil)
			var ve *polybot.VenueError
			if !errors.As(err, &ve) {
				t.Fatalf("got %T %v", err, err)
			}
			// Polymarket has no error codes of its own: Code stays empty
			// rather than holding one of ours (Code is the venue's code).
			if ve.Status != tt.status || ve.Code != "" || ve.Message != tt.wantMsg || ve.RetryAfter != tt.wantRetry ||
				ve.Unknown != tt.wantUnknwn || errors.Is(err, polybot.ErrOutcomeUnknown) != tt.wantUnknwn || ve.Venue != polybot.Polymarket {
				t.Fatalf("got %+v", ve)
			}
		})
	}
}

func TestATimeoutOnlyMakesAMutatingCallUnknown(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	c := NewClient(Config{CLOBURL: srv.URL, Timeout: 50 * time.Millisecond})
	for _, mutating := range []bool{true, false} {
		err := c.do(context.Background(), request{method: http.MethodPost, base: srv.URL, path: "/order", mutating: mutating}, nil)
		var ve *polybot.VenueError
		if !errors.As(err, &ve) || ve.Code != "" || ve.Status != 0 || errors.Is(err, polybot.ErrOutcomeUnknown) != mutating {
			t.Fatalf("mutating=%v: %v", mutating, err)
		}
	}
}

// A 2xx that cannot be read says the venue acted: on an order post the
// outcome is unknown, on a read it is a plain failure. Neither has a code.
func TestAnUnreadableAnswerOnlyMakesAMutatingCallUnknown(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"orderID": 12`))
	}))
	defer srv.Close()
	c := NewClient(Config{CLOBURL: srv.URL})
	for _, mutating := range []bool{true, false} {
		var out PostOrderResponse
		err := c.do(context.Background(), request{method: http.MethodPost, base: srv.URL, path: "/order", mutating: mutating}, &out)
		var ve *polybot.VenueError
		if !errors.As(err, &ve) || ve.Status != http.StatusOK || ve.Code != "" || errors.Is(err, polybot.ErrOutcomeUnknown) != mutating {
			t.Fatalf("mutating=%v: %+v", mutating, err)
		}
	}
}

func TestGammaMarketsDecodeTheirJSONEncodedStringFields(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/markets" || r.URL.Query().Get("slug") != "fed" {
			t.Errorf("request %s", r.URL)
		}
		w.Write([]byte(`[{"id":"12","question":"Fed holds?","conditionId":"0xabc","slug":"fed","outcomes":"[\"Yes\", \"No\"]",` +
			`"clobTokenIds":"[\"111\", \"222\"]","active":true,"closed":false,"negRisk":true,"orderPriceMinTickSize":0.001,` +
			`"orderMinSize":5,"endDate":"2025-12-10T12:00:00Z","volume":"123.4"}]`))
	}))
	defer srv.Close()
	ms, err := NewClient(Config{GammaURL: srv.URL}).Markets(context.Background(), MarketsQuery{Slug: "fed"})
	if err != nil || len(ms) != 1 {
		t.Fatal(ms, err)
	}
	m := ms[0]
	if m.TickSize != dec("0.001") || m.MinOrderSize != dec("5") || !m.NegRisk || m.EndDate.Year() != 2025 {
		t.Fatalf("%+v", m)
	}
	insts := m.Instruments()
	if insts[0].Token != "111" || insts[0].Outcome != polybot.Yes || insts[1].Token != "222" || insts[1].Outcome != polybot.No || insts[1].Market != "0xabc" {
		t.Fatalf("%+v", insts)
	}
}
