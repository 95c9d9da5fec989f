package postgres

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/polybot/polybot"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

//go:embed bootstrap.sql
var bootstrapSQL string

type migration struct {
	version int
	name    string
	sql     string
}

// migrations are the embedded migrations in order: migrations/NNNN_name.sql,
// numbered from 1 without gaps. The schema version is the last one applied.
var migrations = loadMigrations()

func loadMigrations() []migration {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		panic("postgres: read embedded migrations: " + err.Error())
	}
	var out []migration
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".sql")
		num, label, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v != len(out)+1 {
			panic("postgres: migration " + e.Name() + " is misnumbered: want " + fmt.Sprintf("%04d_name.sql", len(out)+1))
		}
		b, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			panic("postgres: read embedded migration: " + err.Error())
		}
		out = append(out, migration{version: v, name: label, sql: string(b)})
	}
	return out
}

// SchemaVersion is the schema version this binary migrates to and serves.
func SchemaVersion() int { return len(migrations) }

// SchemaDigest identifies the embedded bootstrap and migrations. Test
// helpers key their template databases by it.
func SchemaDigest() string {
	h := sha256.New()
	h.Write([]byte(bootstrapSQL))
	for _, m := range migrations {
		fmt.Fprintf(h, "\x00%d\x00%s\x00%s", m.version, m.name, m.sql)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// migrateLock is the advisory lock key that serialises Migrate runs on one
// database.
const migrateLock int64 = 0x706f6c79626f74 // "polybot"

// Migrator is polybot.Migrator for PostgreSQL: it migrates with the
// privileged AdminURL. The store itself (Open) runs as polybot_app, which
// cannot change the schema.
type Migrator struct{ AdminURL string }

var _ polybot.Migrator = Migrator{}

// Migrate runs the package's Migrate with m.AdminURL.
func (m Migrator) Migrate(ctx context.Context) (int, error) { return Migrate(ctx, m.AdminURL) }

// Migrate brings the database at adminURL to this binary's schema and
// returns the schema version. adminURL must connect as a superuser or a role
// with CREATEROLE (Supabase's postgres role will do).
//
// It creates, only where missing: the auth schema and auth.uid() (Supabase's
// semantics), the role authenticated, and PolyBot's roles polybot_owner,
// polybot_service and polybot_app (see the package comment). Then it applies
// each pending migration in its own transaction as polybot_owner, records it
// in polybot_schema_migrations, and adds the default tiers that are missing.
// Concurrent runs are safe: they queue on an advisory lock. A database whose
// schema is newer than this binary is refused untouched.
//
// polybot_app is created without a password; see SetAppPassword.
func Migrate(ctx context.Context, adminURL string) (int, error) {
	cfg, err := pgx.ParseConfig(adminURL)
	if err != nil {
		return 0, fmt.Errorf("postgres: parse database URL: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return 0, fmt.Errorf("postgres: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	var user string
	var super, createRole bool
	if err := conn.QueryRow(ctx, `SELECT rolname, rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user`).
		Scan(&user, &super, &createRole); err != nil {
		return 0, fmt.Errorf("postgres: check the migrating role: %w", err)
	}
	if !super && !createRole {
		return 0, fmt.Errorf("postgres: migrate needs a superuser or a role with CREATEROLE; %q is neither", user)
	}

	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrateLock); err != nil {
		return 0, fmt.Errorf("postgres: take the migration lock: %w", err)
	}
	defer func() {
		// Closing the connection releases the lock as well.
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrateLock)
	}()

	current, err := appliedVersion(ctx, conn)
	if err != nil {
		return 0, err
	}
	if current > len(migrations) {
		return current, checkVersion(current, "")
	}

	if err := inTx(ctx, conn, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, bootstrapSQL)
		return err
	}); err != nil {
		return current, fmt.Errorf("postgres: bootstrap roles and the auth schema: %w", err)
	}

	for _, m := range migrations[current:] {
		err := inTx(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SET LOCAL ROLE polybot_owner; SET LOCAL search_path = public`); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO polybot_schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name)
			return err
		})
		if err != nil {
			return current, fmt.Errorf("postgres: migration %04d_%s: %w", m.version, m.name, err)
		}
		current = m.version
	}

	if err := inTx(ctx, conn, func(tx pgx.Tx) error { return seedTiers(ctx, tx) }); err != nil {
		return current, fmt.Errorf("postgres: seed the default tiers: %w", err)
	}
	return current, nil
}

// appliedVersion is the database's schema version: 0 before the first
// migration.
func appliedVersion(ctx context.Context, conn *pgx.Conn) (int, error) {
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('public.polybot_schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, fmt.Errorf("postgres: read the schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	if err := conn.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM public.polybot_schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("postgres: read the schema version: %w", err)
	}
	return v, nil
}

// seedTiers adds the default tiers that are missing; an admin's edits stay.
func seedTiers(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `SET LOCAL ROLE polybot_owner`); err != nil {
		return err
	}
	for _, t := range polybot.DefaultTiers() {
		if _, err := tx.Exec(ctx, `INSERT INTO public.polybot_tiers (name, display_name, price_usd_monthly, monthly_trade_limit,
				max_trade_size_usd, max_daily_loss_usd, max_positions, features)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (name) DO NOTHING`,
			t.Name, t.DisplayName, t.PriceUSDMonthly.String(), t.MonthlyTradeLimit,
			t.MaxTradeSizeUSD.String(), t.MaxDailyLossUSD.String(), t.MaxPositions, polybot.MarshalFeatures(t.Features)); err != nil {
			return err
		}
	}
	return nil
}

func inTx(ctx context.Context, conn *pgx.Conn, fn func(pgx.Tx) error) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	return tx.Commit(ctx)
}

// SetAppPassword sets polybot_app's password, for servers that do not trust
// local connections. Run it with the same privileged URL as Migrate, after
// it; pass the same password to AppURL.
func SetAppPassword(ctx context.Context, adminURL, password string) error {
	if password == "" {
		return errors.New("postgres: empty password")
	}
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var stmt string
	if err := conn.QueryRow(ctx, `SELECT format('ALTER ROLE polybot_app PASSWORD %L', $1::text)`, password).Scan(&stmt); err != nil {
		return fmt.Errorf("postgres: set the app password: %w", err)
	}
	if _, err := conn.Exec(ctx, stmt); err != nil {
		// The statement holds the password: report only the server's message.
		var msg string
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			msg = ": " + pe.Message
		}
		return fmt.Errorf("postgres: set the app password%s", msg)
	}
	return nil
}
