package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
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
	for _, p := range []polybot.Platform{polybot.Kalshi, polybot.Polymarket, polybot.Kalshi, polybot.Alpaca, polybot.IBKR, polybot.IBKR} {
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

// A tenant's IBKR key is validated with the gateway as a tenant's bot would
// see it: an account the gateway's session does not list is refused by
// name, and a signed-out gateway refuses every account.
func TestIBKRKeysAreValidatedWithTheGateway(t *testing.T) {
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
	tr := &trading{sims: s, venues: s.venues()}
	fields, err := tr.simulatorKeys(ctx, polybot.IBKR)
	if err != nil {
		t.Fatal(err)
	}
	if fields[polybot.FieldAPISecret] != s.ibkrURL || !strings.HasPrefix(fields[polybot.FieldAPIKey], "DU") {
		t.Fatalf("IBKR simulator key %v", fields)
	}
	build := func(acct string) polybot.Exchange {
		ex, err := tr.venues.exchangeFor(ctx, nil, polybot.NewID(), polybot.IBKR, true,
			secrets.Plaintext{polybot.FieldAPIKey: []byte(acct), polybot.FieldAPISecret: []byte("http://127.0.0.1:1")}, nil, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		return ex
	}
	// Under --sim the simulator's gateway is used whatever URL is stored.
	if err := build(fields[polybot.FieldAPIKey]).ValidateCredentials(ctx); err != nil {
		t.Fatalf("generated account: %v", err)
	}
	err = build("U0000000").ValidateCredentials(ctx)
	var ve *polybot.VenueError
	if !errors.As(err, &ve) {
		t.Fatalf("an unknown account: %v", err)
	}
	if field, _, ok := polybot.CredentialRejection(polybot.IBKR, ve, false); !ok || field != polybot.FieldAPIKey || !strings.Contains(err.Error(), "U0000000") {
		t.Fatalf("an unknown account is the account field's fault: %v (%s)", err, field)
	}
	s.ibkr.SetSession(false, false, false)
	err = build(fields[polybot.FieldAPIKey]).ValidateCredentials(ctx)
	if !errors.As(err, &ve) {
		t.Fatalf("signed out: %v", err)
	}
	if field, _, ok := polybot.CredentialRejection(polybot.IBKR, ve, false); !ok || field != polybot.FieldAPISecret {
		t.Fatalf("a signed-out gateway: %v (%s)", err, field)
	}
}
