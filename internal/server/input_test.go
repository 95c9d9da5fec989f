package server_test

import (
	"strings"
	"testing"
)

// nul is a JSON string escape for a NUL character: PostgreSQL refuses it in
// text (SQLSTATE 22021) and SQLite would store it. Invalid UTF-8 cannot
// arrive in a JSON string (the decoder replaces it), but it can in a path
// or a query, as %FF.
const nul = `\u0000`

// testBadInputIs4xx proves every string field a request stores answers 400
// naming the field, on whichever store open makes, and that integers are
// bounded to what both stores hold.
func testBadInputIs4xx(t *testing.T, open storeOpener) {
	env := newEnv(t, open)
	anon := env.client()
	u := env.client().signup("input-user@example.com")
	a := env.client().signup("input-admin@example.com").makeAdmin()
	pair := func(field, value string) string {
		m := map[string]string{"name": "Fed December", "polymarket_yes_token": "111", "polymarket_no_token": "222", "kalshi_ticker": "KXFED", "polymarket_condition_id": "0xabc", "resolution_notes": "same source"}
		m[field] = value
		var b strings.Builder
		b.WriteString("{")
		first := true
		for k, v := range m {
			if !first {
				b.WriteString(",")
			}
			first = false
			b.WriteString(`"` + k + `":"` + v + `"`)
		}
		b.WriteString("}")
		return b.String()
	}
	runCases(t, anon, []apiCase{
		{"signup display_name NUL", "POST", "/api/v1/auth/signup", `{"email":"n1@example.com","password":"correct horse battery","display_name":"Ada` + nul + `"}`, 400, "display_name", ""},
		{"signup display_name over 100 characters", "POST", "/api/v1/auth/signup", `{"email":"n2@example.com","password":"correct horse battery","display_name":"` + strings.Repeat("ж", 101) + `"}`, 400, "display_name", ""},
		{"signup email NUL", "POST", "/api/v1/auth/signup", `{"email":"n3` + nul + `@example.com","password":"correct horse battery"}`, 400, "email", ""},
		{"signup password NUL", "POST", "/api/v1/auth/signup", `{"email":"n4@example.com","password":"correct horse` + nul + `battery"}`, 400, "password", ""},
		{"login email NUL is a bad login, not a 500", "POST", "/api/v1/auth/login", `{"email":"n5` + nul + `@example.com","password":"correct horse battery"}`, 401, "", ""},
	})
	runCases(t, u, []apiCase{
		{"profile display_name NUL", "PATCH", "/api/v1/profile", `{"display_name":"A` + nul + `"}`, 400, "display_name", ""},
		{"profile display_name 100 characters is fine", "PATCH", "/api/v1/profile", `{"display_name":"` + strings.Repeat("ж", 100) + `"}`, 200, "", ""},
		{"token name NUL", "POST", "/api/v1/tokens", `{"name":"ci` + nul + `"}`, 400, "name", ""},
		{"config advanced_config NUL", "PUT", "/api/v1/config", `{"advanced_config":{"k":"` + nul + `"}}`, 400, "advanced_config", ""},
		{"config advanced_config NUL key", "PUT", "/api/v1/config", `{"advanced_config":{"` + nul + `":1}}`, 400, "advanced_config", ""},
		{"config bad decimal names its field", "PUT", "/api/v1/config", `{"max_trade_size_usd":"12x"}`, 400, "max_trade_size_usd", ""},
		{"secret additional_config NUL", "POST", "/api/v1/secrets", `{"platform":"alpaca","api_key":"AK","api_secret":"SK","additional_config":{"k":"` + nul + `"}}`, 400, "additional_config", ""},
		{"orders state NUL", "GET", "/api/v1/orders?state=%00", nil, 400, "state", ""},
		{"orders state invalid UTF-8", "GET", "/api/v1/orders?state=%FF", nil, 400, "state", ""},
	})
	tier := func(extra string) string {
		return `{"display_name":"Free","price_usd_monthly":"0","monthly_trade_limit":100,"max_trade_size_usd":"50","max_daily_loss_usd":"100","max_positions":5` + extra + `}`
	}
	runCases(t, a, []apiCase{
		{"tier display_name NUL", "PUT", "/api/v1/admin/tiers/free", `{"display_name":"Fr` + nul + `ee"}`, 400, "display_name", ""},
		{"tier monthly_trade_limit past int32", "PUT", "/api/v1/admin/tiers/free", tier(`,"monthly_trade_limit":2147483648`), 400, "monthly_trade_limit", ""},
		{"tier max_positions past int32", "PUT", "/api/v1/admin/tiers/free", tier(`,"max_positions":2147483648`), 400, "max_positions", ""},
		{"tier monthly_trade_limit past int64", "PUT", "/api/v1/admin/tiers/free", `{"monthly_trade_limit":92233720368547758070}`, 400, "monthly_trade_limit", ""},
		{"tier bad decimal names its field", "PUT", "/api/v1/admin/tiers/free", `{"price_usd_monthly":"abc"}`, 400, "price_usd_monthly", ""},
		{"tier decimal with 7 places names its field", "PUT", "/api/v1/admin/tiers/free", `{"max_trade_size_usd":"1.1234567"}`, 400, "max_trade_size_usd", "6 decimal places"},
		{"tier decimal out of range names its field", "PUT", "/api/v1/admin/tiers/free", `{"max_daily_loss_usd":"99999999999999999"}`, 400, "max_daily_loss_usd", ""},
		{"tier name NUL in the path", "PUT", "/api/v1/admin/tiers/fr%00ee", tier(""), 400, "name", ""},
		{"tier name invalid UTF-8 in the path", "PUT", "/api/v1/admin/tiers/fr%FFee", tier(""), 400, "name", ""},
		{"tier limits at int32 are stored", "PUT", "/api/v1/admin/tiers/huge", tier(`,"monthly_trade_limit":2147483647,"max_positions":2147483647`), 200, "", `"monthly_trade_limit":2147483647`},
		{"set tier NUL", "PUT", "/api/v1/admin/users/" + u.user.ID.String() + "/tier", `{"tier":"free` + nul + `"}`, 400, "tier", ""},
		{"users cursor NUL", "GET", "/api/v1/admin/users?after=%00", nil, 400, "after", ""},
		{"users cursor invalid UTF-8", "GET", "/api/v1/admin/users?after=%FF", nil, 400, "after", ""},
		{"pair path NUL", "PUT", "/api/v1/admin/market-pairs/fed%00", pair("name", "Fed"), 400, "id", ""},
		{"pair path invalid UTF-8", "PUT", "/api/v1/admin/market-pairs/fed%FF", pair("name", "Fed"), 400, "id", ""},
		{"pair delete path NUL", "DELETE", "/api/v1/admin/market-pairs/fed%00", nil, 400, "id", ""},
		{"pair delete path invalid UTF-8", "DELETE", "/api/v1/admin/market-pairs/fed%FF", nil, 400, "id", ""},
		{"pair is stored", "PUT", "/api/v1/admin/market-pairs/fed", pair("name", "Fed ✓"), 200, "", `"name":"Fed ✓"`},
	})
	var pairCases []apiCase
	for _, f := range []string{"name", "polymarket_yes_token", "polymarket_no_token", "polymarket_condition_id", "kalshi_ticker", "resolution_notes"} {
		pairCases = append(pairCases, apiCase{"pair " + f + " NUL", "PUT", "/api/v1/admin/market-pairs/fed", pair(f, "x"+nul), 400, f, ""})
	}
	runCases(t, a, pairCases)
}

func TestBadInputIs4xxSQLite(t *testing.T)   { testBadInputIs4xx(t, openSQLite) }
func TestBadInputIs4xxPostgres(t *testing.T) { testBadInputIs4xx(t, openPostgres) }
