package main

import (
	"context"
	"log/slog"
	"testing"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/secrets"
)

// The simulator keys serve --sim generates are what the simulators accept:
// each passes the format check and then the venue's own authenticated
// call, through the same connectors a tenant's bot uses. A second Kalshi
// key is a different account.
func TestSimulatorKeysWorkWithTheSimulators(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var f simFlags
	f.pmAddr, f.kalshiAddr, f.replay, f.pmBalance, f.kalshiBalance, f.pmFeeRate, f.pmFeeExponent =
		"127.0.0.1:0", "127.0.0.1:0", "none", "10000", "10000", "0", 1
	s, err := f.start(ctx, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.closeAll()
	tr := &trading{sims: s, venues: s.venues(), kalshiBalance: polybot.MustDecimal("10000")}
	seen := map[string]bool{}
	for _, p := range []polybot.Platform{polybot.Kalshi, polybot.Polymarket, polybot.Kalshi, polybot.Alpaca} {
		fields, err := tr.simulatorKeys(ctx, p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		plain := secrets.Plaintext{}
		for k, v := range fields {
			plain[k] = []byte(v)
		}
		if err := polybot.CheckCredentialFormat(p, plain); err != nil {
			t.Fatalf("%s: generated key of the wrong shape: %v", p, err)
		}
		if seen[fields[polybot.FieldAPIKey]] {
			t.Errorf("%s: the same key id twice", p)
		}
		seen[fields[polybot.FieldAPIKey]] = true
		ex, err := tr.venues.exchangeFor(ctx, nil, polybot.NewID(), p, true, plain, nil, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if err := ex.ValidateCredentials(ctx); err != nil {
			t.Errorf("%s: the simulator refused its own generated key: %v", p, err)
		}
	}
	// Without simulators there are no simulator keys.
	if _, err := (&trading{}).simulatorKeys(ctx, polybot.Kalshi); polybot.ErrorCode(err) != polybot.ENOTFOUND {
		t.Errorf("no simulators: %v", err)
	}
}
