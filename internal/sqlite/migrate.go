package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/polybot/polybot"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string // file name without the version and extension
	sql     string
	// after runs in the migration's transaction once its SQL has; it seeds
	// data whose source of truth is Go code.
	after func(*sql.Tx, *DB) error
}

// migrationHooks seeds, in the migration that creates their tables, the
// default tiers and the audit chain's head.
var migrationHooks = map[int]func(*sql.Tx, *DB) error{
	1: seedV1,
}

var migrations, migrationsErr = loadMigrations(migrationFiles)

func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, n := range names {
		base := strings.TrimSuffix(path.Base(n), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || name == "" {
			return nil, fmt.Errorf("sqlite: migration file %s is not named NNNN_name.sql", n)
		}
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: name, sql: string(b), after: migrationHooks[v]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("sqlite: migrations are not numbered 1..n: %04d_%s is number %d", m.version, m.name, i+1)
		}
	}
	return out, nil
}

// LatestVersion is the schema version this binary's migrations reach.
func LatestVersion() int { return len(migrations) }

const qCreateMigrationsTable = `CREATE TABLE IF NOT EXISTS polybot_schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at INTEGER NOT NULL
) STRICT`

// Version returns the database's schema version: 0 for a database that was
// never migrated.
func (db *DB) Version(ctx context.Context) (int, error) {
	return schemaVersion(ctx, db.w)
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func schemaVersion(ctx context.Context, q querier) (int, error) {
	var exists int
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'polybot_schema_migrations'`).Scan(&exists)
	if err != nil || exists == 0 {
		return 0, err
	}
	var v sql.NullInt64
	if err := q.QueryRowContext(ctx, `SELECT max(version) FROM polybot_schema_migrations`).Scan(&v); err != nil {
		return 0, err
	}
	return int(v.Int64), nil
}

func newerSchemaError(v int) error {
	return fmt.Errorf("database schema version %d is newer than this binary supports (%d); upgrade polybot", v, LatestVersion())
}

// CheckSchema returns an error unless the database is at exactly the schema
// version this binary expects: a newer schema needs a newer binary, an older
// one needs `polybot migrate`.
func (db *DB) CheckSchema(ctx context.Context) error {
	if migrationsErr != nil {
		return migrationsErr
	}
	v, err := db.Version(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: read schema version: %w", err)
	}
	switch latest := LatestVersion(); {
	case v > latest:
		return newerSchemaError(v)
	case v < latest:
		return fmt.Errorf("database schema version %d is older than this binary needs (%d): %d migration(s) pending; run `polybot migrate`", v, latest, latest-v)
	}
	return nil
}

// Migrate applies pending migrations, each in its own transaction, and
// returns the resulting schema version. A database whose version is newer
// than this binary knows is refused and left untouched.
func (db *DB) Migrate(ctx context.Context) (int, error) {
	if migrationsErr != nil {
		return 0, migrationsErr
	}
	if _, err := db.w.ExecContext(ctx, qCreateMigrationsTable); err != nil {
		return 0, fmt.Errorf("sqlite: create polybot_schema_migrations: %w", err)
	}
	v, err := db.Version(ctx)
	if err != nil {
		return 0, fmt.Errorf("sqlite: read schema version: %w", err)
	}
	if v > LatestVersion() {
		return v, newerSchemaError(v)
	}
	for _, m := range migrations {
		if m.version <= v {
			continue
		}
		if err := db.apply(ctx, m); err != nil {
			return v, err
		}
		v = m.version
	}
	return v, nil
}

var errAlreadyApplied = errors.New("already applied")

func (db *DB) apply(ctx context.Context, m migration) error {
	stx, err := db.w.BeginTx(ctx, nil) // BEGIN IMMEDIATE: one migrator at a time
	if err != nil {
		return fmt.Errorf("sqlite: migration %04d_%s: %w", m.version, m.name, err)
	}
	defer stx.Rollback()
	err = func() error {
		// Another process may have applied it while we waited for the lock.
		cur, err := schemaVersion(ctx, stx)
		if err != nil {
			return err
		}
		if cur >= m.version {
			return errAlreadyApplied
		}
		if _, err := stx.ExecContext(ctx, m.sql); err != nil {
			return err
		}
		if m.after != nil {
			if err := m.after(stx, db); err != nil {
				return err
			}
		}
		_, err = stx.ExecContext(ctx, `INSERT INTO polybot_schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, micros(db.now()))
		return err
	}()
	if errors.Is(err, errAlreadyApplied) {
		return nil
	}
	if err == nil {
		err = stx.Commit()
	}
	if err != nil {
		return fmt.Errorf("sqlite: migration %04d_%s: %w", m.version, m.name, err)
	}
	return nil
}

func seedV1(stx *sql.Tx, db *DB) error {
	now := db.now()
	for _, t := range polybot.DefaultTiers() {
		_, err := stx.Exec(`INSERT INTO polybot_tiers (name, display_name, price_usd_monthly, monthly_trade_limit,
			max_trade_size_usd, max_daily_loss_usd, max_positions, features, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			t.Name, t.DisplayName, t.PriceUSDMonthly, t.MonthlyTradeLimit,
			t.MaxTradeSizeUSD, t.MaxDailyLossUSD, t.MaxPositions, polybot.MarshalFeatures(t.Features), micros(now))
		if err != nil {
			return fmt.Errorf("seed tier %s: %w", t.Name, err)
		}
	}
	_, err := stx.Exec(`INSERT INTO polybot_audit_head (id, seq, hash) VALUES (1, 0, ?)`, polybot.GenesisHash)
	return err
}
