package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"
)

// TestServeWithAnOpenDashboardStopsCleanlyInUnderASecond: an open
// dashboard holds a live event stream; stopping serve must end it, stop
// the bots and the hubs, and close the store, in under a second and
// without an error.
func TestServeWithAnOpenDashboardStopsCleanlyInUnderASecond(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--sim", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-level", "error"},
			func(string) string { return "" }, strings.NewReader(""), pw, io.Discard)
		pw.Close()
	}()
	var url, email, password string
	sc := bufio.NewScanner(pr)
	for (url == "" || email == "") && sc.Scan() {
		l := sc.Text()
		if u, ok := strings.CutPrefix(l, "PolyBot is listening on "); ok {
			url = u
		}
		if rest, ok := strings.CutPrefix(l, "Demo user: "); ok {
			if f := strings.Fields(rest); len(f) >= 3 {
				email, password = f[0], f[2]
			}
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if url == "" || email == "" {
		t.Fatal("serve printed no URL or demo user")
	}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	res, err := hc.Post(url+"/api/v1/auth/login", "application/json", strings.NewReader(`{"email":"`+email+`","password":"`+password+`"}`))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("login: %v %v", res, err)
	}
	res.Body.Close()
	stream, err := hc.Get(url + "/api/v1/events")
	if err != nil || stream.StatusCode != 200 {
		t.Fatalf("events: %v %v", stream, err)
	}
	defer stream.Body.Close()
	first, err := bufio.NewReader(stream.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(first, "event: status") {
		t.Fatalf("first event line %q, %v", first, err)
	}
	ended := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, stream.Body); close(ended) }()

	began := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not stop within 5s with a dashboard open")
	}
	took := time.Since(began)
	select {
	case <-ended:
	case <-time.After(time.Second):
		t.Fatal("the event stream is still open after serve returned")
	}
	if took > time.Second {
		t.Fatalf("serve took %s to stop with a dashboard open, want under a second", took)
	}
	t.Logf("stopped in %s", took.Round(time.Millisecond))
}

// TestServeSimStartsAgainOnTheSameDataDirectory: the README's command,
// run a second time in the same place, starts as it did the first time
// (today's demo user and data are kept).
func TestServeSimStartsAgainOnTheSameDataDirectory(t *testing.T) {
	dir := t.TempDir()
	for i := range 2 {
		ctx, cancel := context.WithCancel(context.Background())
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"serve", "--sim", "--addr", "127.0.0.1:0", "--data-dir", dir, "--log-level", "error"},
				func(string) string { return "" }, strings.NewReader(""), pw, io.Discard)
			pw.Close()
		}()
		sc := bufio.NewScanner(pr)
		listening := false
		for !listening && sc.Scan() {
			listening = strings.HasPrefix(sc.Text(), "PolyBot is listening on ")
		}
		go func() { _, _ = io.Copy(io.Discard, pr) }()
		cancel()
		err := <-done
		if !listening || err != nil {
			t.Fatalf("start %d of serve --sim on one data directory: listening %v, %v", i+1, listening, err)
		}
	}
}
