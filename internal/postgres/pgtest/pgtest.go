// Package pgtest gives tests a fresh, migrated PostgreSQL database of their
// own, fast: each test process migrates one template database (keyed by the
// schema's digest, shared with later runs) and every test gets a
// CREATE DATABASE … TEMPLATE clone, dropped when the test ends.
//
// The server is POLYBOT_TEST_DATABASE_URL, by default
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable; its user must
// be a superuser (or have CREATEDB and CREATEROLE). When it cannot be
// reached the test is skipped, unless POLYBOT_REQUIRE_POSTGRES=1 (CI), when
// it fails.
//
// It is for tests only. It imports internal/postgres and the root package.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/postgres"
	"github.com/polybot/polybot/internal/storetest"
)

// DefaultURL is the server used when POLYBOT_TEST_DATABASE_URL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// ServerURL is the privileged URL of the test server's maintenance database.
func ServerURL() string {
	if u := os.Getenv("POLYBOT_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// Required reports whether a missing server fails tests instead of
// skipping them (POLYBOT_REQUIRE_POSTGRES=1).
func Required() bool { return os.Getenv("POLYBOT_REQUIRE_POSTGRES") == "1" }

// Database is a fresh database for one test.
type Database struct {
	Name     string
	AdminURL string // the privileged URL (as the server URL's user)
	AppURL   string // the same database as polybot_app (postgres.AppURL)
}

// NewDatabase returns a fresh migrated database, dropped when t ends.
func NewDatabase(t testing.TB) *Database {
	t.Helper()
	tmpl, err := template()
	if err != nil {
		skipOrFail(t, err)
	}
	return newDatabase(t, tmpl)
}

// NewEmptyDatabase returns a fresh database that has never been migrated,
// dropped when t ends.
func NewEmptyDatabase(t testing.TB) *Database {
	t.Helper()
	if _, err := template(); err != nil {
		skipOrFail(t, err)
	}
	return newDatabase(t, "template0")
}

func skipOrFail(t testing.TB, err error) {
	t.Helper()
	if unreachable(err) {
		if Required() {
			t.Fatalf("pgtest: PostgreSQL is required (POLYBOT_REQUIRE_POSTGRES=1) but unreachable: %v", err)
		}
		t.Skipf("pgtest: PostgreSQL unreachable, skipping (set POLYBOT_TEST_DATABASE_URL, or POLYBOT_REQUIRE_POSTGRES=1 to fail): %v", err)
	}
	t.Fatalf("pgtest: prepare the template database: %v", err)
}

func newDatabase(t testing.TB, tmpl string) *Database {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := "polybot_test_" + strconv.FormatInt(time.Now().Unix(), 10) + "_" + randomHex(6)
	if err := serverExec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()+` TEMPLATE `+pgx.Identifier{tmpl}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := serverExec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	admin, err := withDatabase(ServerURL(), name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	app, err := postgres.AppURL(admin, "")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return &Database{Name: name, AdminURL: admin, AppURL: app}
}

// Open returns a store on a fresh database, connected as polybot_app and
// closed when t ends. A nil clock is the system clock.
func Open(t testing.TB, clock polybot.Clock) *postgres.DB {
	t.Helper()
	return NewDatabase(t).Open(t, clock)
}

// Open opens a store on d as polybot_app, closed when t ends. Extra pgxpool
// URL parameters (e.g. "pool_max_conns=1") may be given.
func (d *Database) Open(t testing.TB, clock polybot.Clock, params ...string) *postgres.DB {
	t.Helper()
	u := d.AppURL
	for _, p := range params {
		if strings.Contains(u, "?") {
			u += "&" + p
		} else {
			u += "?" + p
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := postgres.Open(ctx, u, clock)
	if err != nil {
		t.Fatalf("pgtest: open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetAuditKey(storetest.TestAuditKey)
	return db
}

// Conn returns a connection to d as the privileged user, closed when t ends.
func (d *Database) Conn(t testing.TB) *pgx.Conn {
	t.Helper()
	return connect(t, d.AdminURL)
}

// AppConn returns a connection to d as polybot_app, closed when t ends.
func (d *Database) AppConn(t testing.TB) *pgx.Conn {
	t.Helper()
	return connect(t, d.AppURL)
}

func connect(t testing.TB, u string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// template returns the name of the migrated template database, creating it
// once per schema digest. Test processes running at once (go test ./...)
// serialise on an advisory lock.
func template() (string, error) {
	templateOnce.Do(func() { templateName, templateErr = makeTemplate() })
	return templateName, templateErr
}

const templateLock int64 = 0x706f6c7974657374 // "polytest"

func makeTemplate() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dial, dialCancel := context.WithTimeout(ctx, 5*time.Second)
	conn, err := pgx.Connect(dial, ServerURL())
	dialCancel()
	if err != nil {
		return "", errUnreachable{err}
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, templateLock); err != nil {
		return "", err
	}
	defer func() { _, _ = conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, templateLock) }()

	name := "polybot_tmpl_" + postgres.SchemaDigest()
	var ready, exists bool
	err = conn.QueryRow(ctx, `SELECT datistemplate FROM pg_database WHERE datname = $1`, name).Scan(&ready)
	exists = err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", err
	}
	sweep(ctx, conn, name)
	if ready {
		touch(ctx, conn, name)
		return name, nil
	}
	if exists { // a run that died half-way
		if _, err := conn.Exec(ctx, `DROP DATABASE `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`); err != nil {
			return "", err
		}
	}
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", err
	}
	u, err := withDatabase(ServerURL(), name)
	if err != nil {
		return "", err
	}
	if _, err := postgres.Migrate(ctx, u); err != nil {
		return "", fmt.Errorf("migrate the template: %w", err)
	}
	// Marking it a template records that it is complete.
	if _, err := conn.Exec(ctx, `ALTER DATABASE `+pgx.Identifier{name}.Sanitize()+` IS_TEMPLATE true`); err != nil {
		return "", err
	}
	touch(ctx, conn, name)
	return name, nil
}

// touch records (as the database's comment) that a run is using a
// template now, so that a run of another checkout with another schema
// digest does not drop it from under this one.
func touch(ctx context.Context, conn *pgx.Conn, name string) {
	_, _ = conn.Exec(ctx, `COMMENT ON DATABASE `+pgx.Identifier{name}.Sanitize()+` IS '`+strconv.FormatInt(time.Now().Unix(), 10)+`'`)
}

// sweep drops templates of other schema digests that no run has used for
// an hour (several checkouts may test at once, each with its own digest),
// and test databases that crashed runs left behind (older than an hour).
func sweep(ctx context.Context, conn *pgx.Conn, keep string) {
	rows, err := conn.Query(ctx, `SELECT datname, coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database
		WHERE datname LIKE 'polybot\_tmpl\_%' OR datname LIKE 'polybot\_test\_%'`)
	if err != nil {
		return
	}
	type db struct{ name, used string }
	dbs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (db, error) {
		var d db
		err := r.Scan(&d.name, &d.used)
		return d, err
	})
	if err != nil {
		return
	}
	cutoff := time.Now().Add(-time.Hour).Unix()
	for _, d := range dbs {
		n, drop := d.name, false
		switch {
		case strings.HasPrefix(n, "polybot_tmpl_"):
			used, _ := strconv.ParseInt(d.used, 10, 64)
			drop = n != keep && used < cutoff
		case strings.HasPrefix(n, "polybot_test_"):
			ts, _, _ := strings.Cut(strings.TrimPrefix(n, "polybot_test_"), "_")
			sec, err := strconv.ParseInt(ts, 10, 64)
			drop = err == nil && sec < cutoff
		}
		if !drop {
			continue
		}
		id := pgx.Identifier{n}.Sanitize()
		_, _ = conn.Exec(ctx, `ALTER DATABASE `+id+` IS_TEMPLATE false`)
		_, _ = conn.Exec(ctx, `DROP DATABASE IF EXISTS `+id+` WITH (FORCE)`)
	}
}

func serverExec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// withDatabase returns u pointing at database name.
func withDatabase(u, name string) (string, error) {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "postgres" && p.Scheme != "postgresql") {
		return "", fmt.Errorf("POLYBOT_TEST_DATABASE_URL must be a postgres:// URL")
	}
	p.Path = "/" + name
	return p.String(), nil
}

type errUnreachable struct{ err error }

func (e errUnreachable) Error() string { return e.err.Error() }
func (e errUnreachable) Unwrap() error { return e.err }

func unreachable(err error) bool {
	_, ok := err.(errUnreachable)
	return ok
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
