package server

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"
)

func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	served := map[string]bool{}
	for _, rt := range (&Server{}).routeTable() {
		if rt.access.isPage() {
			continue // the web UI's pages are HTML, not API
		}
		served[rt.pattern] = true
	}
	var missing, extra []string
	for k := range served {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !served[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("routes not in openapi.json: %v", missing)
	}
	if len(extra) > 0 {
		t.Errorf("openapi.json documents routes that are not served: %v", extra)
	}
}

func TestEveryErrorCodeHasOneStatus(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Enum []any `json:"enum"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	codes := doc.Components.Schemas["Error"].Properties["code"].Enum
	if len(codes) == 0 {
		t.Fatal("no error codes documented")
	}
	for _, v := range codes {
		c, _ := v.(string)
		st := statusOf(c)
		if c != "internal" && st == 500 {
			t.Errorf("code %q maps to 500", c)
		}
		if st < 400 {
			t.Errorf("code %q maps to %d", c, st)
		}
	}
}
