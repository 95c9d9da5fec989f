package polymarket_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	sim "github.com/polybot/polybot/internal/venuesim/polymarket"
	"github.com/polybot/polybot/internal/venuetest"
)

// TestMarketsArePagedAsTheCLOBPagesThem: 501 markets are one page of 500
// with a cursor to the next, then a page of one ending with "LTE=".
func TestMarketsArePagedAsTheCLOBPagesThem(t *testing.T) {
	srv, err := sim.New(sim.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 501 {
		if err := srv.AddMarket(sim.Market{ConditionID: fmt.Sprintf("0x%064x", i+1), Question: fmt.Sprintf("Q%d?", i),
			Tokens: [2]string{fmt.Sprint(1000 + 2*i), fmt.Sprint(1001 + 2*i)}}); err != nil {
			t.Fatal(err)
		}
	}
	urls := venuetest.StartSim(t, srv.Start, nil)
	type page struct {
		Limit      int    `json:"limit"`
		Count      int    `json:"count"`
		NextCursor string `json:"next_cursor"`
		Data       []struct {
			ConditionID string `json:"condition_id"`
			Tokens      []struct {
				TokenID string `json:"token_id"`
			} `json:"tokens"`
		} `json:"data"`
	}
	get := func(cursor string) page {
		t.Helper()
		resp, err := http.Get(urls.CLOB + "/markets?next_cursor=" + cursor)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var p page
		if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&p) != nil {
			t.Fatalf("GET /markets?next_cursor=%s: %s", cursor, resp.Status)
		}
		return p
	}
	first := get("")
	if first.Count != 500 || len(first.Data) != 500 || first.NextCursor == "LTE=" || len(first.Data[0].Tokens) != 2 {
		t.Fatalf("first page: count %d, cursor %q", first.Count, first.NextCursor)
	}
	second := get(first.NextCursor)
	if second.Count != 1 || second.NextCursor != "LTE=" || second.Data[0].ConditionID != fmt.Sprintf("0x%064x", 501) {
		t.Fatalf("second page %+v", second)
	}
	if end := get("LTE="); end.Count != 0 {
		t.Fatalf("past the end: %+v", end)
	}
	resp, err := http.Get(urls.CLOB + "/markets?next_cursor=bm90LWEtbnVtYmVy")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("a bad cursor: %s, want 400", resp.Status)
		}
	}
}
