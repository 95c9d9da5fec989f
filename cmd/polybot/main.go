// Command polybot is PolyBot's one binary: the server (serve), a tenant's
// own process under a worker (runner), schema migrations (migrate), account
// administration (user), master-key rotation (keys), the audit-log checker
// (audit) and version.
//
// This package only parses flags and wires packages together; the logic lives
// in the root package and internal/.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/polybot/polybot"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, errSilent) {
			fmt.Fprintln(os.Stderr, "polybot:", userMessage(err))
		}
		os.Exit(exitCode(err))
	}
}

// env is how the program sees the world; tests pass their own.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// errSilent marks an error already reported to the user.
var errSilent = errors.New("reported")

const usage = `polybot — multi-tenant prediction-market trading

Usage:
  polybot serve    [flags]   run the API server (embedded SQLite by default)
  polybot runner   [flags]   one tenant's own process, started by serve --role worker (Tier 2)
  polybot migrate  [flags]   apply database migrations
  polybot user     <create|list|set-tier|set-role> [flags]
  polybot keys     <rotate|status> [flags]
  polybot audit    <verify> [flags]
  polybot sim      [flags]   run the Polymarket and Kalshi simulators on loopback
  polybot replay   [flags]   run the strategies over a recording and report P&L net of fees
  polybot version

Run "polybot <command> -h" for a command's flags.
`

// run is the testable main.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := &env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError("missing command")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, e, rest)
	case "runner":
		return cmdRunner(ctx, e, rest)
	case "migrate":
		return cmdMigrate(ctx, e, rest)
	case "user":
		return cmdUser(ctx, e, rest)
	case "keys":
		return cmdKeys(ctx, e, rest)
	case "audit":
		return cmdAudit(ctx, e, rest)
	case "sim":
		return cmdSim(ctx, e, rest)
	case "replay":
		return cmdReplay(ctx, e, rest)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "polybot", polybot.Version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageError(fmt.Sprintf("unknown command %q", cmd))
}

type usageErr struct{ msg string }

func (e *usageErr) Error() string { return e.msg }

func usageError(msg string) error { return &usageErr{msg} }

func userMessage(err error) string {
	var ue *usageErr
	if errors.As(err, &ue) {
		return ue.msg
	}
	var pe *polybot.Error
	if errors.As(err, &pe) {
		if pe.Code == polybot.EINTERNAL && pe.Err != nil {
			return pe.Err.Error()
		}
		if len(pe.Fields) > 0 {
			return pe.Error()
		}
		return pe.Message
	}
	return err.Error()
}

func exitCode(err error) int {
	var ue *usageErr
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}
