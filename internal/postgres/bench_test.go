package postgres_test

import (
	"context"
	"testing"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/postgres/pgtest"
)

// Run with:
//
//	go test ./internal/postgres -run '^$' -bench . -benchtime 5s
//
// Both benchmarks run their loop in parallel (GOMAXPROCS × 4 goroutines over
// a pool of 8 connections), the way an API server calls the store, and
// report throughput as tx/s or req/s.

// BenchmarkTenantViewConfig measures the API's per-request config read: one
// read-only tenant transaction with one query (BEGIN, set_config and the
// SELECT in one batch, then COMMIT).
func BenchmarkTenantViewConfig(b *testing.B) {
	db := pgtest.NewDatabase(b).Open(b, nil, "pool_max_conns=8")
	u := seedTenant(b, db, "bench@example.com")
	ctx := context.Background()
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			err := db.TenantView(ctx, u, func(tx polybot.TenantTx) error {
				_, err := tx.Config()
				return err
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
}

// BenchmarkRequestHotPath measures what an authenticated API request costs
// the store: the session look-up (AdminView: SessionUser, one query, as
// internal/server does) and the tenant's config read (TenantView).
func BenchmarkRequestHotPath(b *testing.B) {
	db := pgtest.NewDatabase(b).Open(b, nil, "pool_max_conns=8")
	u := seedTenant(b, db, "bench@example.com")
	ctx := context.Background()
	session := "session-bench@example.com"
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			var user polybot.ID
			err := db.AdminView(ctx, func(tx polybot.AdminTx) error {
				_, usr, err := tx.SessionUser(session)
				if err != nil {
					return err
				}
				user = usr.ID
				return nil
			})
			if err == nil {
				err = db.TenantView(ctx, user, func(tx polybot.TenantTx) error {
					_, err := tx.Config()
					return err
				})
			}
			if err != nil || user != u {
				b.Errorf("request: %v", err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
