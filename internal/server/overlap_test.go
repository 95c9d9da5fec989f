package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/polybot/polybot"
)

func kalshiMarketJSON(ticker string) map[string]any {
	return map[string]any{"yes": map[string]any{"venue": "kalshi", "market": ticker, "outcome": 0},
		"no": map[string]any{"venue": "kalshi", "market": ticker, "outcome": 1}}
}

func polymarketMarketJSON(cond, yes, no string) map[string]any {
	return map[string]any{"yes": map[string]any{"venue": "polymarket", "market": cond, "token": yes, "outcome": 0},
		"no": map[string]any{"venue": "polymarket", "market": cond, "token": no, "outcome": 1}}
}

// setJSON is an outcome set body of n outcomes on venue, edited by edit.
func setJSON(venue string, n int, edit func(m map[string]any)) map[string]any {
	var outcomes []any
	for i := range n {
		m := kalshiMarketJSON(fmt.Sprintf("KXFED-25DEC-%d", i))
		if venue == "polymarket" {
			m = polymarketMarketJSON(fmt.Sprintf("0xc%d", i), fmt.Sprintf("y%d", i), fmt.Sprintf("n%d", i))
		}
		outcomes = append(outcomes, map[string]any{"label": fmt.Sprintf("Outcome %d", i), "markets": []any{m}})
	}
	s := map[string]any{"name": "Fed December (" + venue + ")", "venue": venue, "event": "KXFED-25DEC", "outcomes": outcomes,
		"exhaustive": true, "resolution_notes": "One of them resolves YES."}
	if edit != nil {
		edit(s)
	}
	return s
}

func implicationJSON(edit func(m map[string]any)) map[string]any {
	r := map[string]any{"name": "Above 3.875% implies above 3.625%", "kind": "implies",
		"a": kalshiMarketJSON("KXFED-25DEC-T3.875"), "b": kalshiMarketJSON("KXFED-25DEC-T3.625"),
		"resolution_notes": "Same upper bound."}
	if edit != nil {
		edit(r)
	}
	return r
}

// testOverlapRegistryAPI drives the admin API of outcome sets and relations
// on whichever store open makes: create, read, list, approve, delete, every
// bad input a 4xx naming its field, tenants refused, each change audited.
func testOverlapRegistryAPI(t *testing.T, open storeOpener) {
	env := newEnv(t, open)
	u := env.client().signup("overlap-user@example.com")
	a := env.client().signup("overlap-admin@example.com").makeAdmin()

	runCases(t, u, []apiCase{
		{"users cannot list outcome sets", "GET", "/api/v1/admin/outcome-sets", nil, 403, "", ""},
		{"users cannot read an outcome set", "GET", "/api/v1/admin/outcome-sets/k-fed", nil, 403, "", ""},
		{"users cannot write outcome sets", "PUT", "/api/v1/admin/outcome-sets/k-fed", setJSON("kalshi", 2, nil), 403, "", ""},
		{"users cannot delete outcome sets", "DELETE", "/api/v1/admin/outcome-sets/k-fed", nil, 403, "", ""},
		{"users cannot list relations", "GET", "/api/v1/admin/relations", nil, 403, "", ""},
		{"users cannot write relations", "PUT", "/api/v1/admin/relations/ladder", implicationJSON(nil), 403, "", ""},
		{"users cannot delete relations", "DELETE", "/api/v1/admin/relations/ladder", nil, 403, "", ""},
	})
	runCases(t, env.client(), []apiCase{
		{"signed out is 401", "GET", "/api/v1/admin/relations", nil, 401, "", ""},
	})

	twenty := setJSON("kalshi", 20, func(m map[string]any) {
		outs := m["outcomes"].([]any)
		for i, o := range outs {
			o := o.(map[string]any)
			o["markets"] = append(o["markets"].([]any), polymarketMarketJSON(fmt.Sprintf("0x%064x", i+1),
				fmt.Sprintf("%078d", 2*i+1), fmt.Sprintf("%078d", 2*i+2)))
			o["pair_id"] = fmt.Sprintf("fed-%02d", i)
		}
	})
	runCases(t, a, []apiCase{
		{"no outcome sets yet", "GET", "/api/v1/admin/outcome-sets", nil, 200, "", `{"outcome_sets":[]}`},
		{"no relations yet", "GET", "/api/v1/admin/relations", nil, 200, "", `{"relations":[]}`},
		{"add a Kalshi set", "PUT", "/api/v1/admin/outcome-sets/k-fed", setJSON("kalshi", 3, nil), 200, "", `"id":"k-fed"`},
		{"add a Polymarket set", "PUT", "/api/v1/admin/outcome-sets/p-fed", setJSON("polymarket", 3, nil), 200, "", `"approved":false`},
		{"add a 20-outcome set on two venues", "PUT", "/api/v1/admin/outcome-sets/a-chair", twenty, 200, "", `"pair_id":"fed-19"`},
		{"read it back", "GET", "/api/v1/admin/outcome-sets/a-chair", nil, 200, "", fmt.Sprintf(`"token":"%078d"`, 40)},
		{"sets are listed by id", "GET", "/api/v1/admin/outcome-sets", nil, 200, "", `"id":"a-chair"`},
		{"approve a set", "PUT", "/api/v1/admin/outcome-sets/k-fed", setJSON("kalshi", 3, func(m map[string]any) { m["approved"] = true }), 200, "", `"approved":true`},
		{"an unknown set", "GET", "/api/v1/admin/outcome-sets/nope", nil, 404, "", `"code":"not_found"`},
		{"delete an unknown set", "DELETE", "/api/v1/admin/outcome-sets/nope", nil, 404, "", ""},

		{"add an implication", "PUT", "/api/v1/admin/relations/ladder", implicationJSON(nil), 200, "", `"kind":"implies"`},
		{"approve it", "PUT", "/api/v1/admin/relations/ladder", implicationJSON(func(m map[string]any) { m["approved"] = true }), 200, "", `"approved":true`},
		{"add an equivalence", "PUT", "/api/v1/admin/relations/fed-eq", map[string]any{"name": "Fed on both venues", "kind": "equivalent",
			"set_a": "k-fed", "set_b": "p-fed", "approved": true}, 200, "", `"set_b":"p-fed"`},
		{"read a relation", "GET", "/api/v1/admin/relations/fed-eq", nil, 200, "", `"set_a":"k-fed"`},
		{"relations are listed", "GET", "/api/v1/admin/relations", nil, 200, "", `"id":"ladder"`},
		{"a set an equivalence names cannot be deleted", "DELETE", "/api/v1/admin/outcome-sets/p-fed", nil, 409, "", `relation \"fed-eq\"`},
		{"an unknown relation", "GET", "/api/v1/admin/relations/nope", nil, 404, "", ""},
		{"delete an unknown relation", "DELETE", "/api/v1/admin/relations/nope", nil, 404, "", ""},
		{"delete the equivalence", "DELETE", "/api/v1/admin/relations/fed-eq", nil, 204, "", ""},
		{"then the set", "DELETE", "/api/v1/admin/outcome-sets/p-fed", nil, 204, "", ""},
		{"delete the implication", "DELETE", "/api/v1/admin/relations/ladder", nil, 204, "", ""},
	})

	// Bad input: 400 naming the field, identically on both stores.
	runCases(t, a, []apiCase{
		{"malformed JSON", "PUT", "/api/v1/admin/outcome-sets/x", `{"name":`, 400, "body", ""},
		{"an unknown field", "PUT", "/api/v1/admin/outcome-sets/x", setJSON("kalshi", 2, func(m map[string]any) { m["colour"] = "red" }), 400, "colour", ""},
		{"an unknown nested field", "PUT", "/api/v1/admin/outcome-sets/x", `{"name":"x","venue":"kalshi","outcomes":[{"label":"a","weight":1}]}`, 400, "weight", ""},
		{"outcomes of the wrong type", "PUT", "/api/v1/admin/outcome-sets/x", `{"name":"x","outcomes":"all"}`, 400, "outcomes", ""},
		{"an outcome past 255", "PUT", "/api/v1/admin/outcome-sets/x", `{"name":"x","outcomes":[{"label":"a","markets":[{"yes":{"outcome":256}}]}]}`, 400, "outcomes.markets.yes.outcome", ""},
		{"a set without a name", "PUT", "/api/v1/admin/outcome-sets/x", setJSON("kalshi", 2, func(m map[string]any) { delete(m, "name") }), 400, "name", ""},
		{"a set on another venue", "PUT", "/api/v1/admin/outcome-sets/x", setJSON("kalshi", 2, func(m map[string]any) { m["venue"] = "alpaca" }), 400, "venue", ""},
		{"a set of one outcome", "PUT", "/api/v1/admin/outcome-sets/x", setJSON("kalshi", 1, nil), 400, "outcomes", ""},
		{"an outcome label with a NUL", "PUT", "/api/v1/admin/outcome-sets/x", setJSON("kalshi", 2, func(m map[string]any) {
			m["outcomes"].([]any)[1].(map[string]any)["label"] = "a\x00b"
		}), 400, "outcomes[1].label", ""},
		{"a NO instrument that is YES", "PUT", "/api/v1/admin/outcome-sets/x", setJSON("kalshi", 2, func(m map[string]any) {
			m["outcomes"].([]any)[0].(map[string]any)["markets"].([]any)[0].(map[string]any)["no"].(map[string]any)["outcome"] = 0
		}), 400, "outcomes[0].markets[0].no", ""},
		{"a set id over 64 characters", "PUT", "/api/v1/admin/outcome-sets/" + strings.Repeat("x", 65), setJSON("kalshi", 2, nil), 400, "id", ""},
		{"a set id with a NUL", "PUT", "/api/v1/admin/outcome-sets/x%00", setJSON("kalshi", 2, nil), 400, "id", ""},
		{"reading a set id of invalid UTF-8", "GET", "/api/v1/admin/outcome-sets/x%FF", nil, 400, "id", ""},
		{"deleting a set id with a NUL", "DELETE", "/api/v1/admin/outcome-sets/x%00", nil, 400, "id", ""},
		{"a relation of an unknown kind", "PUT", "/api/v1/admin/relations/r", implicationJSON(func(m map[string]any) { m["kind"] = "excludes" }), 400, "kind", ""},
		{"an implication of a market by itself", "PUT", "/api/v1/admin/relations/r", implicationJSON(func(m map[string]any) { m["b"] = m["a"] }), 400, "b", ""},
		{"an implication without A", "PUT", "/api/v1/admin/relations/r", implicationJSON(func(m map[string]any) { delete(m, "a") }), 400, "a.yes", ""},
		{"an implication naming a set", "PUT", "/api/v1/admin/relations/r", implicationJSON(func(m map[string]any) { m["set_a"] = "k-fed" }), 400, "set_a", ""},
		{"an equivalence of an unknown set", "PUT", "/api/v1/admin/relations/r", map[string]any{"name": "x", "kind": "equivalent", "set_a": "k-fed", "set_b": "nope"}, 400, "set_b", "names no outcome set"},
		{"an approved equivalence of two Kalshi sets", "PUT", "/api/v1/admin/relations/r", map[string]any{"name": "x", "kind": "equivalent", "set_a": "k-fed", "set_b": "a-chair", "approved": true}, 400, "set_b", ""},
		{"relation notes with a NUL", "PUT", "/api/v1/admin/relations/r", implicationJSON(func(m map[string]any) { m["resolution_notes"] = "\x00" }), 400, "resolution_notes", ""},
		{"a relation id with a NUL", "DELETE", "/api/v1/admin/relations/r%00", nil, 400, "id", ""},
		{"reading a relation id of invalid UTF-8", "GET", "/api/v1/admin/relations/r%FF", nil, 400, "id", ""},
		{"nothing bad was stored", "GET", "/api/v1/admin/relations", nil, 200, "", `{"relations":[]}`},
	})

	// Every change is on the audit chain under the admin's name.
	var actions []string
	err := env.Store.AdminView(context.Background(), func(tx polybot.AdminTx) error {
		es, err := tx.AuditEntries(0, 1000)
		for _, e := range es {
			if strings.HasPrefix(e.Action, "admin.outcome_set") || strings.HasPrefix(e.Action, "admin.relation") {
				actions = append(actions, e.Action+" "+e.Target)
				if e.Actor != "admin:"+a.user.ID.String() {
					t.Errorf("%s by %q, want the admin", e.Action, e.Actor)
				}
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"admin.outcome_set outcome_set:k-fed", "admin.outcome_set outcome_set:p-fed", "admin.outcome_set outcome_set:a-chair",
		"admin.outcome_set outcome_set:k-fed", "admin.relation relation:ladder", "admin.relation relation:ladder",
		"admin.relation relation:fed-eq", "admin.relation_delete relation:fed-eq", "admin.outcome_set_delete outcome_set:p-fed",
		"admin.relation_delete relation:ladder",
	}
	if strings.Join(actions, "\n") != strings.Join(want, "\n") {
		t.Errorf("audited:\n%s\nwant:\n%s", strings.Join(actions, "\n"), strings.Join(want, "\n"))
	}
}

func TestOverlapRegistryAPISQLite(t *testing.T)   { testOverlapRegistryAPI(t, openSQLite) }
func TestOverlapRegistryAPIPostgres(t *testing.T) { testOverlapRegistryAPI(t, openPostgres) }

// The admin page lists the overlap registry: relations (kind, the two
// sides, status and actions) and outcome sets (venue, event, how many
// outcomes, each outcome's markets in a details element), as cards on a
// phone like every admin table.
func TestAdminPageListsRelationsAndOutcomeSets(t *testing.T) {
	env := newWebEnv(t, nil)
	a := env.client().signup("overlap-page@example.com").makeAdmin()
	r := a.page("/admin")
	expectStatus(t, r, 200)
	expectContains(t, "/admin (empty registry)", r, `id="relations-table"`, "No relations yet.", `id="sets-table"`, "No outcome sets yet.")

	runCases(t, a, []apiCase{
		{"a Kalshi ladder", "PUT", "/api/v1/admin/outcome-sets/k-ladder", setJSON("kalshi", 3, func(m map[string]any) {
			m["name"] = "Fed upper bound"
			m["approved"] = true
		}), 200, "", ""},
		{"a Polymarket set", "PUT", "/api/v1/admin/outcome-sets/p-fed", setJSON("polymarket", 2, func(m map[string]any) { m["exhaustive"] = false }), 200, "", ""},
		{"an implication between two rungs", "PUT", "/api/v1/admin/relations/ladder", implicationJSON(func(m map[string]any) {
			m["a"], m["b"] = kalshiMarketJSON("KXFED-25DEC-1"), kalshiMarketJSON("KXFED-25DEC-0")
			m["approved"] = true
		}), 200, "", ""},
		{"an equivalence of sets that differ", "PUT", "/api/v1/admin/relations/fed-eq", map[string]any{"name": "Fed <both> venues", "kind": "equivalent",
			"set_a": "k-ladder", "set_b": "p-fed", "resolution_notes": "Kalshi's & Polymarket's rules agree."}, 200, "", ""},
	})
	r = a.page("/admin")
	expectStatus(t, r, 200)
	expectSecurePage(t, "/admin", r)
	expectContains(t, "/admin", r,
		`id="relation-ladder"`, `data-approved="true"`, `id="relation-ladder-reject"`, `id="relation-ladder-delete"`,
		`Fed upper bound: Outcome 1 (Kalshi KXFED-25DEC-1)</span> <span aria-hidden="true">⇒</span>`,
		`id="relation-fed-eq-approve"`, `Fed &lt;both&gt; venues`, `⇔`, "Equivalence", "Implication",
		`Cannot be approved: set_b must list as many outcomes as set_a to approve the equivalence (3, not 2)`,
		"Kalshi&#39;s &amp; Polymarket&#39;s rules agree.",
		`id="set-k-ladder"`, `id="set-k-ladder-outcomes"`, `<span class="mono small">Kalshi KXFED-25DEC-2</span>`,
		`<td class="num">3</td>`, `id="set-k-ladder-status" data-state="approved"`, `id="set-p-fed-status" data-state="pending"`,
		`<td>Polymarket</td>`, `id="set-p-fed-delete"`,
	)
	body := string(r.Body)
	if strings.Index(body, `id="relation-ladder"`) > strings.Index(body, `id="relation-fed-eq"`) {
		t.Error("the equivalence is listed before the implication")
	}
	if strings.Contains(body, "No relations yet.") || strings.Contains(body, "No outcome sets yet.") {
		t.Error("the filled registry still says it is empty")
	}
	// The rows carry their records for the page script's PUT, escaped.
	if !strings.Contains(body, `data-relation="{&#34;id&#34;:&#34;fed-eq&#34;`) {
		t.Errorf("the equivalence row does not carry its record: %s", body[strings.Index(body, `id="relation-fed-eq"`):][:300])
	}
	u := env.client().signup("overlap-page-user@example.com")
	if r := u.page("/admin"); r.Status != 403 || strings.Contains(string(r.Body), "relations-table") {
		t.Errorf("a user's /admin: %d", r.Status)
	}
}
