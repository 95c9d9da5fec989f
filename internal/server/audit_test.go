package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestAuditTrailShowsNoGlobalSequenceAndPagesWithAnOpaqueCursor(t *testing.T) {
	env := newEnv(t, nil)
	a := env.client().signup("audit-a@example.com")
	b := env.client().signup("audit-b@example.com")
	for range 3 {
		for _, c := range []*client{a, b} {
			expectStatus(t, c.do("PUT", "/api/v1/config", `{"min_profit_pct": "2.5"}`), 200)
		}
	}
	type page struct {
		Entries []map[string]any `json:"entries"`
		Next    string           `json:"next"`
	}
	get := func(c *client, q string) page {
		t.Helper()
		r := c.do("GET", "/api/v1/audit"+q, nil)
		expectStatus(t, r, 200)
		for _, k := range []string{`"seq"`, `"prev_hash"`, `"hash"`, `"user_id"`} {
			if strings.Contains(string(r.Body), k) {
				t.Fatalf("tenant audit trail shows %s: %s", k, r.Body)
			}
		}
		var p page
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	all := get(a, "?limit=200")
	var got int
	next := ""
	for range 20 {
		q := "?limit=2"
		if next != "" {
			q += "&before=" + next
		}
		p := get(a, q)
		got += len(p.Entries)
		if p.Next == "" {
			break
		}
		if _, err := json.Number(p.Next).Int64(); err == nil {
			t.Fatalf("cursor %q is a plain number", p.Next)
		}
		next = p.Next
		// Bob cannot page with Alice's cursor.
		if r := b.do("GET", "/api/v1/audit?before="+next, nil); r.Status != http.StatusBadRequest {
			t.Fatalf("bob with alice's cursor: %d %s", r.Status, r.Body)
		}
	}
	if got != len(all.Entries) || got < 4 {
		t.Fatalf("paged %d entries, all at once %d", got, len(all.Entries))
	}
	if r := a.do("GET", "/api/v1/audit?before=12", nil); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "before") {
		t.Fatalf("a numeric before: %d %s", r.Status, r.Body)
	}
	// The admin's verify still sees the whole chain, every tenant's rows.
	admin := env.client().signup("audit-admin@example.com").makeAdmin()
	r := admin.do("GET", "/api/v1/admin/audit/verify", nil)
	expectStatus(t, r, 200)
	if !strings.Contains(string(r.Body), `"ok":true`) {
		t.Fatalf("verify: %s", r.Body)
	}
}
