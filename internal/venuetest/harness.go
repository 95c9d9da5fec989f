package venuetest

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/polybot/polybot"
)

// The pieces below are what the connectors' and the simulators' own tests
// share beside the suite: starting a simulator, building a connector,
// reading a venue's refusal.

// StartSim starts a simulator on a free loopback port (127.0.0.1:0) for the
// rest of the test and returns what its Start returns (a base URL, or the
// simulator's URLs). start is the simulator's Start; stop, its Close, runs
// at cleanup after the simulator's context has ended (nil: the context's
// end is all the stopping it needs).
func StartSim[U any](t testing.TB, start func(context.Context, string) (U, error), stop func()) U {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	u, err := start(ctx, "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if stop != nil {
			stop()
		}
	})
	return u
}

// Must returns v, failing t if err (what built v) is not nil.
func Must[V any](t testing.TB, v V, err error) V {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// SetBookOf is a Venue.SetBook that sets the suite's book through a
// simulator's admin hook setBook under the simulator's key for it.
func SetBookOf[K any](setBook func(key K, bids, asks []polybot.Level) error, key K) func(t *testing.T, bids, asks []polybot.Level) {
	return func(t *testing.T, bids, asks []polybot.Level) {
		t.Helper()
		if err := setBook(key, bids, asks); err != nil {
			t.Fatal(err)
		}
	}
}

// VenueError returns the *polybot.VenueError that err is or wraps, failing
// t if there is none.
func VenueError(t testing.TB, err error) *polybot.VenueError {
	t.Helper()
	var ve *polybot.VenueError
	if !errors.As(err, &ve) {
		t.Fatalf("want a *polybot.VenueError, got %T %v", err, err)
	}
	return ve
}

// HTTPClient is the HTTP client of an Exchange built for o: nil (the
// connector's default) unless o asks for a request timeout.
func (o ExchangeOptions) HTTPClient() *http.Client {
	if o.Timeout > 0 {
		return &http.Client{Timeout: o.Timeout}
	}
	return nil
}
