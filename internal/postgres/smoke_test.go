package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/postgres/pgtest"
)

func TestSmoke(t *testing.T) {
	db := pgtest.Open(t, nil)
	ctx := context.Background()
	u := &polybot.User{Email: "a@example.com"}
	if err := db.Admin(ctx, func(tx polybot.AdminTx) error { return tx.CreateUser(u, nil, nil) }); err != nil {
		t.Fatal(err)
	}
	err := db.TenantView(ctx, u.ID, func(tx polybot.TenantTx) error {
		c, err := tx.Config()
		if err != nil {
			return err
		}
		t.Logf("config %+v", c)
		p, err := tx.Profile()
		t.Logf("profile %+v", p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Tenant(ctx, u.ID, func(tx polybot.TenantTx) error {
		if err := tx.AppendAudit(&polybot.AuditEntry{Actor: "x", Action: "y"}); err != nil {
			return err
		}
		q, err := tx.IncrementTrades()
		t.Logf("quota %+v", q)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = time.Now
}
