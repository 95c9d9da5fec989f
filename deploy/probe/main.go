// Command polybot-probe is the container image's health check: the image has
// no shell or curl, so Docker's HEALTHCHECK and Compose's healthcheck run this
// static binary. It GETs one URL and exits 0 on a 2xx answer, 1 otherwise.
//
//	polybot-probe http://127.0.0.1:8080/readyz
//
// Kubernetes does not need it: its probes call /healthz and /readyz directly.
// It imports nothing from PolyBot, so the image's check stays a few hundred
// kilobytes of standard library.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	if err := probe(context.Background(), os.Args[1:], 2*time.Second); err != nil {
		fmt.Fprintln(os.Stderr, "polybot-probe:", err)
		os.Exit(1)
	}
}

// probe checks the single URL in args within timeout.
func probe(ctx context.Context, args []string, timeout time.Duration) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: polybot-probe URL")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, args[0], nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s answered %s", args[0], resp.Status)
	}
	return nil
}
