package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/postgres"
	"github.com/polybot/polybot/internal/secrets"
	"github.com/polybot/polybot/internal/sqlite"
)

// dbFlags selects the database: embedded SQLite in the data directory, or
// PostgreSQL when a URL is given.
type dbFlags struct {
	dataDir     string
	databaseURL string
	migrateURL  string
}

func (f *dbFlags) register(fs *flag.FlagSet, e *env) {
	fs.StringVar(&f.dataDir, "data-dir", envOr(e, "POLYBOT_DATA_DIR", "./data"), "data directory: SQLite database and master key file (env POLYBOT_DATA_DIR)")
	fs.StringVar(&f.databaseURL, "database-url", e.getenv("POLYBOT_DATABASE_URL"), "PostgreSQL URL of the application role (polybot_app); empty means embedded SQLite (env POLYBOT_DATABASE_URL)")
	fs.StringVar(&f.migrateURL, "migrate-database-url", e.getenv("POLYBOT_MIGRATE_DATABASE_URL"), "PostgreSQL URL of a privileged role used to apply migrations before serving (env POLYBOT_MIGRATE_DATABASE_URL)")
}

func envOr(e *env, key, def string) string {
	if v := e.getenv(key); v != "" {
		return v
	}
	return def
}

func (f *dbFlags) postgres() bool { return f.databaseURL != "" }

func (f *dbFlags) ensureDataDir() error {
	if err := os.MkdirAll(f.dataDir, 0o700); err != nil {
		return fmt.Errorf("data directory %s: %w", f.dataDir, err)
	}
	return nil
}

func (f *dbFlags) sqlitePath() string { return filepath.Join(f.dataDir, "polybot.db") }

// open opens the store. With migrate, pending migrations are applied first
// (on PostgreSQL only when a privileged migrate URL is set).
func (f *dbFlags) open(ctx context.Context, clock polybot.Clock, migrate bool) (polybot.Store, string, error) {
	if f.postgres() {
		if migrate && f.migrateURL != "" {
			if _, err := postgres.Migrate(ctx, f.migrateURL); err != nil {
				return nil, "", err
			}
		}
		st, err := postgres.Open(ctx, f.databaseURL, clock)
		if err != nil {
			return nil, "", err
		}
		return st, "postgresql " + redactURL(f.databaseURL), nil
	}
	if err := f.ensureDataDir(); err != nil {
		return nil, "", err
	}
	st, err := sqlite.Open(f.sqlitePath(), clock)
	if err != nil {
		return nil, "", err
	}
	if migrate {
		if _, err := st.Migrate(ctx); err != nil {
			st.Close()
			return nil, "", err
		}
	}
	return st, "sqlite " + f.sqlitePath(), nil
}

// keyring opens the master key: env, _FILE, or the data directory's key file.
func (f *dbFlags) keyring(e *env) (*secrets.Keyring, error) {
	if e.getenv(secrets.EnvMasterKey) == "" && e.getenv(secrets.EnvMasterKeyFile) == "" {
		if err := f.ensureDataDir(); err != nil {
			return nil, err
		}
	}
	return secrets.OpenKeyring(f.dataDir, e.getenv)
}

// loadAuditKey opens the master keyring and loads the platform's audit key
// into st (secrets.LoadAuditKey): on first use it creates the key and
// re-seals the existing SHA-256 chain under it, once, and says so on stderr.
func (f *dbFlags) loadAuditKey(ctx context.Context, e *env, st polybot.Store) (*secrets.Keyring, secrets.AuditKey, error) {
	keys, err := f.keyring(e)
	if err != nil {
		return nil, secrets.AuditKey{}, err
	}
	ak, resealed, err := secrets.LoadAuditKey(ctx, st, keys)
	if err != nil {
		return nil, secrets.AuditKey{}, fmt.Errorf("audit key: %w", err)
	}
	if resealed > 0 {
		fmt.Fprintf(e.stderr, "audit log: keyed the chain with a new audit key; %d existing entries re-sealed under it\n", resealed)
	}
	return keys, ak, nil
}

// redactURL drops the password from a database URL before it is printed.
func redactURL(u string) string {
	at := strings.LastIndex(u, "@")
	scheme := strings.Index(u, "://")
	if at < 0 || scheme < 0 {
		return u
	}
	userinfo := u[scheme+3 : at]
	if i := strings.Index(userinfo, ":"); i >= 0 {
		return u[:scheme+3] + userinfo[:i] + ":***" + u[at:]
	}
	return u
}
