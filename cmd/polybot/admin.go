package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/auth"
	"github.com/polybot/polybot/internal/postgres"
	"github.com/polybot/polybot/internal/secrets"
)

func newFlags(e *env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}

func cmdMigrate(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "migrate")
	var db dbFlags
	db.register(fs, e)
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	if db.postgres() {
		// Here --database-url names a privileged role: migrations create
		// roles, tables and policies.
		url := db.databaseURL
		if db.migrateURL != "" {
			url = db.migrateURL
		}
		v, err := postgres.Migrate(ctx, url)
		if err != nil {
			return err
		}
		app, err := postgres.AppURL(url, "")
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "PostgreSQL schema is at version %d; serve with --database-url %s\n", v, redactURL(app))
		return nil
	}
	st, _, err := db.open(ctx, polybot.SystemClock, false)
	if err != nil {
		return err
	}
	defer st.Close()
	v, err := st.(polybot.Migrator).Migrate(ctx)
	if err != nil {
		return err
	}
	if _, _, err := db.loadAuditKey(ctx, e, st); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "SQLite schema at %s is at version %d; the audit chain is keyed\n", db.sqlitePath(), v)
	return nil
}

// openForAdmin opens the store for an admin command, with the audit key
// loaded (see dbFlags.loadAuditKey). An embedded SQLite database is created
// or migrated as needed; PostgreSQL must already be migrated (postgres.Open
// refuses a stale schema).
func openForAdmin(ctx context.Context, e *env, db *dbFlags) (polybot.Store, *secrets.Keyring, secrets.AuditKey, error) {
	st, _, err := db.open(ctx, polybot.SystemClock, !db.postgres())
	if err != nil {
		return nil, nil, secrets.AuditKey{}, err
	}
	keys, ak, err := db.loadAuditKey(ctx, e, st)
	if err != nil {
		st.Close()
		return nil, nil, secrets.AuditKey{}, err
	}
	return st, keys, ak, nil
}

func cmdUser(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usageError("usage: polybot user <create|list|set-tier|set-role> [flags]")
	}
	sub, args := args[0], args[1:]
	fs := newFlags(e, "user "+sub)
	var db dbFlags
	db.register(fs, e)
	email := fs.String("email", "", "the user's email")
	switch sub {
	case "create":
		admin := fs.Bool("admin", false, "give the user the admin role")
		name := fs.String("display-name", "", "display name")
		pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
		pwFile := fs.String("password-file", "", "read the password from this file")
		if err := fs.Parse(args); err != nil {
			return usageError(err.Error())
		}
		addr, err := polybot.NormalizeEmail(*email)
		if err != nil {
			return err
		}
		pw, err := readPassword(e, *pwStdin, *pwFile)
		if err != nil {
			return err
		}
		if err := polybot.ValidatePassword(pw); err != nil {
			return err
		}
		hash, err := auth.HashPassword(pw, auth.DefaultParams)
		if err != nil {
			return err
		}
		st, _, _, err := openForAdmin(ctx, e, &db)
		if err != nil {
			return err
		}
		defer st.Close()
		u := &polybot.User{Email: addr, PasswordHash: hash, Role: polybot.RoleUser}
		if *admin {
			u.Role = polybot.RoleAdmin
		}
		err = st.Admin(ctx, func(tx polybot.AdminTx) error {
			_, err := polybot.CreateAccount(tx, u, *name, "cli")
			return err
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "created %s %s (%s)\n", u.Role, u.Email, u.ID)
		return nil
	case "list":
		asJSON := fs.Bool("json", false, "print JSON")
		if err := fs.Parse(args); err != nil {
			return usageError(err.Error())
		}
		st, _, _, err := openForAdmin(ctx, e, &db)
		if err != nil {
			return err
		}
		defer st.Close()
		var all []*polybot.UserSummary
		err = st.AdminView(ctx, func(tx polybot.AdminTx) error {
			after := ""
			for {
				page, err := tx.Users(after, 500)
				if err != nil {
					return err
				}
				all = append(all, page...)
				if len(page) < 500 {
					return nil
				}
				after = page[len(page)-1].User.Email
			}
		})
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(e.stdout).Encode(all)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tEMAIL\tROLE\tTIER\tTRADES\tDISABLED")
		for _, s := range all {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%v\n", s.User.ID, s.User.Email, s.User.Role, s.Profile.SubscriptionTier,
				s.Profile.TradesUsed(polybot.SystemClock()), s.Profile.MonthlyTradeLimit, s.User.Disabled)
		}
		return tw.Flush()
	case "set-tier", "set-role":
		value := fs.String(strings.TrimPrefix(sub, "set-"), "", "the new "+strings.TrimPrefix(sub, "set-"))
		if err := fs.Parse(args); err != nil {
			return usageError(err.Error())
		}
		addr, err := polybot.NormalizeEmail(*email)
		if err != nil {
			return err
		}
		st, _, _, err := openForAdmin(ctx, e, &db)
		if err != nil {
			return err
		}
		defer st.Close()
		err = st.Admin(ctx, func(tx polybot.AdminTx) error {
			u, err := tx.UserByEmail(addr)
			if err != nil {
				return err
			}
			action := polybot.AuditAdminTier
			if sub == "set-tier" {
				if _, err := tx.Tier(*value); err != nil {
					return polybot.FieldError("tier", fmt.Sprintf("no tier named %q", *value))
				}
				err = tx.SetUserTier(u.ID, *value)
			} else {
				action = polybot.AuditAdminRole
				if !polybot.Role(*value).Valid() {
					return polybot.FieldError("role", `must be "user" or "admin"`)
				}
				err = tx.SetUserRole(u.ID, polybot.Role(*value))
			}
			if err != nil {
				return err
			}
			d, _ := json.Marshal(map[string]string{sub: *value})
			return tx.AppendAudit(&polybot.AuditEntry{UserID: &u.ID, Actor: "cli", Action: action, Target: "user:" + u.ID.String(), Details: string(d), CreatedAt: tx.Now()})
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s: %s is now %s\n", sub, addr, *value)
		return nil
	}
	return usageError(fmt.Sprintf("unknown user command %q", sub))
}

func readPassword(e *env, fromStdin bool, file string) (string, error) {
	switch {
	case fromStdin && file != "":
		return "", usageError("use only one of --password-stdin and --password-file")
	case fromStdin:
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", usageError("--password-stdin: no password on standard input")
		}
		return strings.TrimRight(line, "\r\n"), nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("--password-file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return "", usageError("give the password with --password-stdin or --password-file (never on the command line)")
}

func cmdAudit(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] != "verify" {
		return usageError("usage: polybot audit verify [flags]")
	}
	fs := newFlags(e, "audit verify")
	var db dbFlags
	db.register(fs, e)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError(err.Error())
	}
	st, _, ak, err := openForAdmin(ctx, e, &db)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := polybot.VerifyAuditLog(ctx, st, ak)
	if err != nil {
		return err
	}
	if *asJSON {
		_ = json.NewEncoder(e.stdout).Encode(rep)
	} else if rep.OK {
		fmt.Fprintf(e.stdout, "audit log OK: %d entries, chain intact up to seq %d\n", rep.Entries, rep.HeadSeq)
	} else {
		fmt.Fprintf(e.stdout, "audit log BROKEN: %d entries, %d problem(s)\n", rep.Entries, len(rep.Problems))
		for _, p := range rep.Problems {
			fmt.Fprintf(e.stdout, "  seq %d: %s\n", p.Seq, p.Reason)
		}
	}
	if !rep.OK {
		return errSilentf("audit log verification failed")
	}
	return nil
}

// errSilentf is an error whose details were already printed.
func errSilentf(msg string) error { return fmt.Errorf("%s: %w", msg, errSilent) }

func cmdKeys(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usageError("usage: polybot keys <rotate|status> [flags]")
	}
	sub, args := args[0], args[1:]
	fs := newFlags(e, "keys "+sub)
	var db dbFlags
	db.register(fs, e)
	prune := fs.Bool("prune", false, "after rotating, remove master keys that no data key uses any more (only once every server has restarted or reloaded)")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	st, keys, _, err := openForAdmin(ctx, e, &db)
	if err != nil {
		return err
	}
	defer st.Close()
	switch sub {
	case "status":
		var dks []*polybot.DataKey
		if err := st.AdminView(ctx, func(tx polybot.AdminTx) error {
			var err error
			dks, err = tx.DataKeys()
			return err
		}); err != nil {
			return err
		}
		byKey := map[string]int{}
		for _, k := range dks {
			byKey[k.MasterKeyID]++
		}
		fmt.Fprintf(e.stdout, "active master key: %s\n", keys.ID())
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "MASTER KEY\tDATA KEYS")
		for _, id := range keys.KeyIDs() {
			fmt.Fprintf(tw, "%s\t%d\n", id, byKey[id])
			delete(byKey, id)
		}
		for id, n := range byKey {
			fmt.Fprintf(tw, "%s (MISSING from the keyring)\t%d\n", id, n)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		var ak *polybot.AuditKeyRecord
		if err := st.AdminView(ctx, func(tx polybot.AdminTx) error {
			var err error
			ak, err = tx.AuditKey()
			return err
		}); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "audit key: wrapped by %s, created %s, rotated %s (%d entries re-sealed when the chain was keyed)\n",
			ak.MasterKeyID, ak.CreatedAt.Format(time.RFC3339), ak.RotatedAt.Format(time.RFC3339), ak.Resealed)
		return nil
	case "rotate":
		old := keys.ID()
		newID := old
		if keys.Path() != "" {
			// A keyring file: add a new active key, keeping the old ones so
			// running servers can still unwrap.
			var err error
			if newID, err = keys.AddKey(); err != nil {
				return err
			}
		}
		// With keys from the environment, the operator has already put the new
		// key in POLYBOT_MASTER_KEY and the old ones in
		// POLYBOT_MASTER_KEY_PREVIOUS; rotation rewraps onto the new one.
		rep, err := secrets.Rotate(ctx, st, keys, keys, "cli")
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "master key rotated: %s -> %s; data keys: %d total, %d rewrapped, %d already current, %d failed; audit key: %s\n",
			old, newID, rep.Total, rep.Rewrapped, rep.Current, rep.Failed, rep.AuditKey)
		if *prune {
			removed, err := keys.Prune(ctx, st, "cli")
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "pruned %d unused master key(s): %s\n", len(removed), strings.Join(removed, ", "))
		}
		return nil
	}
	return usageError(fmt.Sprintf("unknown keys command %q", sub))
}
