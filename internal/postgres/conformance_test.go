package postgres_test

import (
	"testing"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/postgres/pgtest"
	"github.com/polybot/polybot/internal/storetest"
)

// TestConformance runs the store conformance suite that internal/sqlite
// runs too, each case on a fresh database.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, clock polybot.Clock) polybot.Store {
		return pgtest.Open(t, clock)
	})
}
