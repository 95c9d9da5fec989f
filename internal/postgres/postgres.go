// Package postgres implements polybot.Store on PostgreSQL with row-level
// security that is compatible with Supabase: policies compare rows with
// auth.uid(), which reads the subject of request.jwt.claims.
//
// It owns the PostgreSQL schema (embedded migrations and the role bootstrap),
// the database roles PolyBot runs as, and the translation of PostgreSQL
// errors into polybot errors. It imports the root package polybot and pgx,
// and must not import any other package of this module (no server, auth,
// secrets or engine code): callers depend on polybot.Store, not on it.
//
// Roles. Migrate runs with a privileged URL and creates polybot_owner (owns
// every table), polybot_service (the admin path), authenticated (tenants;
// Supabase's role) and polybot_app, the LOGIN role the application connects
// as. polybot_app is NOSUPERUSER, NOBYPASSRLS, NOINHERIT and owns nothing: on
// its own it cannot read any table. Every transaction switches it, for that
// transaction only, to authenticated with the tenant's claims or to
// polybot_service:
//
//	SELECT set_config('request.jwt.claims', $1, true), set_config('role', $2, true)
//
// Session-level SET is never used, so a pooled connection never carries one
// request's identity into the next. Open refuses to run as a superuser or a
// BYPASSRLS role, and refuses a schema that is not exactly this binary's.
//
// Round trips. The BEGIN, the set_config and the transaction's first query
// travel together in one pgx.Batch (statements are prepared once per
// connection and cached), so a one-query transaction costs two round trips:
// that batch and COMMIT. The pool takes pgxpool's URL parameters
// (pool_max_conns, ...). Benchmarks: go test ./internal/postgres -run '^$' -bench .
//
// Supabase. The role authenticated is also the role PostgREST gives signed-in
// users, so whatever it is granted here (its own rows, through the policies)
// is reachable with a user's JWT over Supabase's REST API when the public
// schema is exposed there. Do not expose it, or accept that exposure.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/polybot/polybot"
)

// Role names created by Migrate.
const (
	AppRole           = "polybot_app"
	OwnerRole         = "polybot_owner"
	ServiceRole       = "polybot_service"
	TenantAppRole     = "polybot_tenant_app"
	AuthenticatedRole = "authenticated"
)

// DB is the PostgreSQL store. It is safe for concurrent use.
type DB struct {
	pool  *pgxpool.Pool
	clock polybot.Clock

	auditKey polybot.AuditKeySlot // seals audit entries; empty until SetAuditKey
}

// SetAuditKey gives the store the key that seals audit entries.
func (db *DB) SetAuditKey(k polybot.AuditKey) { db.auditKey.Set(k) }

func (db *DB) key() polybot.AuditKey { return db.auditKey.Get() }

var _ polybot.Store = (*DB)(nil)

// Open connects to appURL as the application role (see AppURL) and checks
// that the connection is safe to serve tenants from: the role must not be a
// superuser, must not have BYPASSRLS, must own no table, and the schema must
// be exactly this binary's version. clock gives every transaction its one
// reading of the time (nil means polybot.SystemClock).
//
// Pool settings can be tuned with pgxpool's URL parameters (pool_max_conns,
// pool_min_conns, ...).
func Open(ctx context.Context, appURL string, clock polybot.Clock) (*DB, error) {
	if clock == nil {
		clock = polybot.SystemClock
	}
	cfg, err := pgxpool.ParseConfig(appURL)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse database URL: %w", err)
	}
	// Statements are prepared once per connection and cached.
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheStatement
	if _, ok := cfg.ConnConfig.RuntimeParams["search_path"]; !ok {
		cfg.ConnConfig.RuntimeParams["search_path"] = "public"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	db := &DB{pool: pool, clock: clock}
	if err := db.check(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// check refuses a connection role that would bypass row-level security, and
// a schema that is not this binary's.
func (db *DB) check(ctx context.Context) error {
	var (
		user                       string
		super, bypass, known       bool
		owns                       int
		canTenant, canService, inh bool
	)
	err := db.pool.QueryRow(ctx, `
		SELECT r.rolname, r.rolsuper, r.rolbypassrls,
			(SELECT count(*) FROM pg_class c WHERE c.relowner = r.oid AND c.relkind IN ('r', 'p', 'v', 'm')),
			to_regrole('authenticated') IS NOT NULL AND to_regrole('polybot_service') IS NOT NULL
		FROM pg_roles r WHERE r.rolname = current_user`).Scan(&user, &super, &bypass, &owns, &known)
	if err != nil {
		return fmt.Errorf("postgres: check the connection's role: %w", err)
	}
	switch {
	case super:
		return fmt.Errorf("postgres: refusing to run as %q: it is a superuser, so row-level security would not apply; connect as %s (see postgres.AppURL)", user, AppRole)
	case bypass:
		return fmt.Errorf("postgres: refusing to run as %q: it has BYPASSRLS, so row-level security would not apply; connect as %s (see postgres.AppURL)", user, AppRole)
	case owns > 0:
		return fmt.Errorf("postgres: refusing to run as %q: it owns %d relations, and an owner can turn row-level security off; connect as %s (see postgres.AppURL)", user, owns, AppRole)
	case !known:
		return errors.New("postgres: the database has no PolyBot roles yet; run `polybot migrate`")
	}
	err = db.pool.QueryRow(ctx, `
		SELECT pg_has_role(current_user, 'authenticated', 'MEMBER'),
			pg_has_role(current_user, 'polybot_service', 'MEMBER'),
			pg_has_role(current_user, 'polybot_service', 'USAGE')`).Scan(&canTenant, &canService, &inh)
	if err != nil {
		return fmt.Errorf("postgres: check the connection's role: %w", err)
	}
	switch {
	case !canTenant || !canService:
		return fmt.Errorf("postgres: role %q cannot switch to authenticated and polybot_service; connect as %s, which `polybot migrate` sets up", user, AppRole)
	case inh:
		return fmt.Errorf("postgres: refusing to run as %q: it inherits polybot_service's privileges outside transactions; it must be NOINHERIT (`polybot migrate` sets %s up so)", user, AppRole)
	}
	var version int
	err = db.run(ctx, serviceIdentity, true, func(t *txn) error {
		return t.queryRow(`SELECT coalesce(max(version), 0) FROM polybot_schema_migrations`, nil, &version)
	})
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "42501") {
			return errors.New("postgres: the database has no PolyBot schema; run `polybot migrate`")
		}
		return fmt.Errorf("postgres: read the schema version: %w", err)
	}
	return checkVersion(version, "run `polybot migrate`")
}

func checkVersion(version int, older string) error {
	want := len(migrations)
	switch {
	case version > want:
		return fmt.Errorf("postgres: database schema version %d is newer than this binary supports (%d); upgrade polybot", version, want)
	case version < want:
		return fmt.Errorf("postgres: database schema version %d is older than this binary's (%d); %s", version, want, older)
	}
	return nil
}

// AppURL returns adminURL with its user swapped for polybot_app (AppRole)
// and its password for password; an empty password drops it, for trust or
// peer authentication, a password file or PGPASSWORD. Host, database and
// parameters are kept. Only URLs (postgres:// or postgresql://) are accepted.
//
// cmd/polybot uses it to derive the serving URL from the --database-url that
// `polybot migrate` ran with:
//
//	appURL, err := postgres.AppURL(adminURL, os.Getenv("POLYBOT_APP_PASSWORD"))
func AppURL(adminURL, password string) (string, error) {
	u, err := url.Parse(adminURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", errors.New("postgres: the database URL must look like postgres://user@host:port/dbname")
	}
	if password != "" {
		u.User = url.UserPassword(AppRole, password)
	} else {
		u.User = url.User(AppRole)
	}
	q := u.Query()
	if q.Has("user") || q.Has("password") {
		q.Del("user")
		q.Del("password")
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return polybot.Internal(err)
	}
	return nil
}

// Close closes every connection.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// now is a transaction's one reading of the clock, at the microsecond
// precision PostgreSQL keeps, so that what is written reads back equal.
func (db *DB) now() time.Time {
	return db.clock().UTC().Truncate(time.Microsecond)
}

// mapErr turns a database error into a polybot error. what names the thing
// a missing row or a duplicate is about ("config", "session"). Messages never
// carry SQL or values; the cause stays in Err for the logs.
func mapErr(err error, what string) error {
	if err == nil {
		return nil
	}
	var pe *polybot.Error
	if errors.As(err, &pe) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return polybot.NotFound(what)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505": // unique_violation
			return &polybot.Error{Code: polybot.ECONFLICT, Message: what + " already exists", Err: err}
		case "23503": // foreign_key_violation
			return &polybot.Error{Code: polybot.ENOTFOUND, Message: referencedThing(pgErr) + " not found", Err: err}
		case "42501": // insufficient_privilege: a grant or a row-level security policy said no
			return &polybot.Error{Code: polybot.EFORBIDDEN, Message: "not allowed", Err: err}
		case "23514", "23502", "22001", "22003", "22P02", "22007", "22008": // check, not null, too long, out of range, bad text
			return &polybot.Error{Code: polybot.EINVALID, Message: "invalid " + what, Err: err}
		}
	}
	return polybot.Internal(err)
}

func referencedThing(e *pgconn.PgError) string {
	switch {
	case strings.Contains(e.ConstraintName, "tier"):
		return "tier"
	default:
		return "user"
	}
}
