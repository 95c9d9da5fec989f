package main

import (
	"testing"
	"time"

	"github.com/polybot/polybot/internal/engine"
)

func TestAWorkersDatabaseSessionsEndTransactionsLeftIdlePastItsLease(t *testing.T) {
	for _, tc := range []struct {
		name, role, url, want string
	}{
		{"worker URL", "worker", "postgres://polybot_app@db:5432/polybot?sslmode=disable",
			"postgres://polybot_app@db:5432/polybot?idle_in_transaction_session_timeout=4000&sslmode=disable"},
		{"worker URL without a query", "worker", "postgres://polybot_app@db/polybot",
			"postgres://polybot_app@db/polybot?idle_in_transaction_session_timeout=4000"},
		{"worker key=value string", "worker", "host=db user=polybot_app dbname=polybot",
			"host=db user=polybot_app dbname=polybot idle_in_transaction_session_timeout=4000"},
		{"the operator's own setting stays", "worker", "postgres://db/polybot?idle_in_transaction_session_timeout=1000",
			"postgres://db/polybot?idle_in_transaction_session_timeout=1000"},
		{"gateway: unchanged", "gateway", "postgres://db/polybot", "postgres://db/polybot"},
		{"all: unchanged", "all", "postgres://db/polybot", "postgres://db/polybot"},
		{"SQLite: nothing to change", "worker", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := roleFlags{role: tc.role, leaseTTL: 4 * time.Second}
			if got := f.fenceTransactions(tc.url); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestOnlyTheNodesThatServeTheAPISendNotificationsWhileEveryRoleQueuesItsEnginesOwn(t *testing.T) {
	for _, tc := range []struct {
		role    engine.Role
		deliver bool
	}{
		{engine.RoleAll, true},
		{engine.RoleAPI, true},
		{engine.RoleGateway, false}, // its opportunity digests: queued by RunHooks
		{engine.RoleWorker, false},  // its bots' alerts: queued by RunHooks
	} {
		if got := deliversNotifications(tc.role); got != tc.deliver {
			t.Errorf("role %s sends the outbox: %v, want %v", tc.role, got, tc.deliver)
		}
	}
}
