package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestProbeSucceedsOnlyOn2xx(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.Write([]byte(`{"status":"ok"}`))
		case "/readyz":
			http.Error(w, `{"error":"database unavailable"}`, http.StatusServiceUnavailable)
		case "/slow":
			<-r.Context().Done()
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"ok", []string{srv.URL + "/healthz"}, ""},
		{"unready", []string{srv.URL + "/readyz"}, "503"},
		{"not found", []string{srv.URL + "/nope"}, "404"},
		{"hangs past the timeout", []string{srv.URL + "/slow"}, "deadline"},
		{"nothing listening", []string{closed.URL + "/healthz"}, "refused"},
		{"no URL", nil, "usage"},
		{"two URLs", []string{srv.URL, srv.URL}, "usage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := probe(context.Background(), tt.args, 200*time.Millisecond)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("probe: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("probe error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
