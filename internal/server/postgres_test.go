package server_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/postgres/pgtest"
)

// openPostgres gives a test its own migrated PostgreSQL database, served as
// the unprivileged polybot_app role. raw dumps every row of every table.
func openPostgres(t testing.TB, clock polybot.Clock) (polybot.Store, func() []byte) {
	t.Helper()
	db := pgtest.NewDatabase(t)
	st := db.Open(t, clock)
	raw := func() []byte {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, db.AdminURL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		rows, err := conn.Query(ctx, `SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`)
		if err != nil {
			t.Fatal(err)
		}
		tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		var out []byte
		for _, tbl := range tables {
			rows, err := conn.Query(ctx, `SELECT row_to_json(t)::text FROM `+tbl+` t`)
			if err != nil {
				t.Fatal(err)
			}
			vals, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				out = append(out, v...)
				out = append(out, '\n')
			}
		}
		return out
	}
	return st, raw
}

func TestCanarySecretsNeverLeakPostgres(t *testing.T) { testCanarySecretsNeverLeak(t, openPostgres) }

func BenchmarkGetConfigPostgres(b *testing.B) { benchmarkGetConfig(b, openPostgres) }

// The API behaves the same on PostgreSQL with RLS.
func TestAPIOnPostgres(t *testing.T) {
	env := newEnv(t, openPostgres)
	a := env.client().signup("pg-a@example.com")
	b := env.client().signup("pg-b@example.com")
	runCases(t, a, []apiCase{
		{"config", "GET", "/api/v1/config", nil, 200, "", `"dry_run":true`},
		{"bad config", "PUT", "/api/v1/config", `{"min_profit_pct": 101}`, 400, "min_profit_pct", ""},
		{"good config", "PUT", "/api/v1/config", `{"min_profit_pct": "0.0001"}`, 200, "", `"min_profit_pct":"0.0001"`},
		{"store key", "POST", "/api/v1/secrets", map[string]any{"platform": "alpaca", "api_key": "AK", "api_secret": "SK"}, 201, "", ""},
		{"validate key", "POST", "/api/v1/secrets/alpaca/validate?paper=true", nil, 200, "", `"valid":true`},
		{"audit", "GET", "/api/v1/audit", nil, 200, "", "secret.decrypt"},
		{"orders filtered", "GET", "/api/v1/orders?market=K&strategy=s&venue=kalshi&mode=live&from=2000-01-01&state=filled,open", nil, 200, "", `"orders":[]`},
		{"NUL in an orders filter", "GET", "/api/v1/orders?market=a%00b", nil, 400, "market", ""},
		{"invalid UTF-8 in an orders filter", "GET", "/api/v1/orders?strategy=%ff", nil, 400, "strategy", ""},
		{"timezone", "PUT", "/api/v1/config", `{"timezone": "America/New_York"}`, 200, "", `"timezone":"America/New_York"`},
		{"bad timezone", "PUT", "/api/v1/config", `{"timezone": "Mars/Olympus"}`, 400, "timezone", ""},
	})
	runCases(t, b, []apiCase{
		{"b sees no keys of a", "GET", "/api/v1/secrets", nil, 200, "", `{"secrets":[]}`},
		{"b cannot delete a's key", "DELETE", "/api/v1/secrets/alpaca?paper=true", nil, 404, "", ""},
		{"b's config is its own", "GET", "/api/v1/config", nil, 200, "", `"min_profit_pct":"1.00"`},
	})
	runCases(t, a, []apiCase{
		{"a's key survived", "GET", "/api/v1/secrets", nil, 200, "", `"platform":"alpaca"`},
	})
}

func TestTradesFilterAndPageOnPostgres(t *testing.T) { testTradesFilterAndPage(t, openPostgres) }

func TestTradesPagesNeverSplitAnInstantOnPostgres(t *testing.T) {
	testTradesPagesNeverSplitAnInstant(t, openPostgres)
}
