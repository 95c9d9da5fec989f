// Package sqlite is PolyBot's store on an embedded SQLite file (the default
// for self-hosting): the schema and its embedded migrations, and every
// polybot.Store, polybot.TenantTx and polybot.AdminTx method.
//
// SQLite has no row-level security, so this package enforces tenancy itself:
// every tenant-scoped query filters on the transaction's tenant and never on a
// UserID carried by the structs it is given. Writes go through one connection
// (BEGIN IMMEDIATE, serialised); read-only views use a separate pool of
// read-only connections and run beside the writer thanks to WAL.
//
// It depends on the root package and the pure-Go driver modernc.org/sqlite
// only. It must not import any other package of this module (in particular
// internal/postgres, internal/server or internal/auth): callers depend on it,
// never the reverse.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/polybot/polybot"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

var (
	_ polybot.Store    = (*DB)(nil)
	_ polybot.Migrator = (*DB)(nil)
	_ polybot.TenantTx = (*tenantTx)(nil)
	_ polybot.AdminTx  = (*adminTx)(nil)
)

// busyTimeout is how long a connection waits for a lock held by another
// process (for example `polybot user` beside a running server).
const busyTimeout = 5 * time.Second

// DB is the store on one SQLite database file.
type DB struct {
	path  string
	clock polybot.Clock

	w *sql.DB // exactly one connection: every write transaction, in turn
	r *sql.DB // read-only connections for the views

	// stmts holds the prepared statements of each pool (0 the writer, 1 the
	// readers), keyed by SQL text. They are prepared outside any transaction
	// (see tx.prepared) and bound to one with Tx.StmtContext, which reuses
	// the connection's prepared copy.
	stmtMu sync.RWMutex
	stmts  [2]map[string]*sql.Stmt

	auditKey polybot.AuditKeySlot // seals audit entries; empty until SetAuditKey
}

// SetAuditKey gives the store the key that seals audit entries.
func (db *DB) SetAuditKey(k polybot.AuditKey) { db.auditKey.Set(k) }

// key returns the audit key, or nil before SetAuditKey.
func (db *DB) key() polybot.AuditKey { return db.auditKey.Get() }

// Open opens (creating if needed) the database at path in WAL mode. It does
// not migrate: call Migrate, or CheckSchema to refuse a stale schema. A nil
// clock means polybot.SystemClock.
func Open(path string, clock polybot.Clock) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	if clock == nil {
		clock = polybot.SystemClock
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	// The file holds sealed keys and password hashes: only its owner may
	// read it. SQLite gives the -wal and -shm files the same mode.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	f.Close()
	db := &DB{path: abs, clock: clock, stmts: [2]map[string]*sql.Stmt{{}, {}}}

	pragmas := url.Values{}
	pragmas.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	pragmas.Add("_pragma", "foreign_keys(1)")

	wq := cloneValues(pragmas)
	wq.Add("_pragma", "journal_mode(WAL)")
	// FULL: a committed order intent, quota count or audit row survives a
	// power cut, not only a crash of this process.
	wq.Add("_pragma", "synchronous(FULL)")
	wq.Set("_txlock", "immediate")
	db.w, err = sql.Open("sqlite", fileURI(abs, wq))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	db.w.SetMaxOpenConns(1)
	db.w.SetMaxIdleConns(1)
	db.w.SetConnMaxLifetime(0)
	db.w.SetConnMaxIdleTime(0)

	// The write connection creates the file and switches it to WAL before
	// any reader opens it.
	var mode string
	if err := db.w.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		db.w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	if !strings.EqualFold(mode, "wal") {
		db.w.Close()
		return nil, fmt.Errorf("sqlite: open %s: journal mode is %q, want wal", abs, mode)
	}

	rq := cloneValues(pragmas)
	rq.Set("mode", "ro")
	rq.Add("_pragma", "query_only(1)")
	db.r, err = sql.Open("sqlite", fileURI(abs, rq))
	if err != nil {
		db.w.Close()
		return nil, fmt.Errorf("sqlite: open %s read-only: %w", abs, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	db.r.SetMaxOpenConns(n)
	db.r.SetMaxIdleConns(n)
	db.r.SetConnMaxLifetime(0)
	db.r.SetConnMaxIdleTime(0)
	if err := db.r.Ping(); err != nil {
		db.w.Close()
		db.r.Close()
		return nil, fmt.Errorf("sqlite: open %s read-only: %w", abs, err)
	}
	return db, nil
}

func fileURI(path string, q url.Values) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	if !strings.HasPrefix(u.Path, "/") { // Windows: file:///C:/...
		u.Path = "/" + u.Path
	}
	return u.String()
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// Path is the database file.
func (db *DB) Path() string { return db.path }

// Close closes both pools; the last connection to close checkpoints the WAL.
func (db *DB) Close() error {
	db.stmtMu.Lock()
	for _, m := range db.stmts {
		for q, s := range m {
			s.Close()
			delete(m, q)
		}
	}
	db.stmtMu.Unlock()
	return errors.Join(db.r.Close(), db.w.Close())
}

// Ping checks that a reader can query the database.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return polybot.Internal(err)
	}
	return nil
}

// now is one clock reading, in UTC at the microsecond precision the columns keep.
func (db *DB) now() time.Time { return norm(db.clock()) }

// Tenant runs fn in a write transaction scoped to tenant. Write transactions
// are serialised: fn must not open another write transaction on this DB.
func (db *DB) Tenant(ctx context.Context, tenant polybot.ID, fn func(polybot.TenantTx) error) error {
	if tenant.IsZero() {
		return polybot.Internal(errors.New("sqlite: tenant transaction without a tenant"))
	}
	return db.run(ctx, false, func(t *tx) error { return fn(&tenantTx{tx: t, tenant: tenant}) })
}

// TenantView runs fn in a read-only transaction scoped to tenant.
func (db *DB) TenantView(ctx context.Context, tenant polybot.ID, fn func(polybot.TenantTx) error) error {
	if tenant.IsZero() {
		return polybot.Internal(errors.New("sqlite: tenant transaction without a tenant"))
	}
	return db.run(ctx, true, func(t *tx) error { return fn(&tenantTx{tx: t, tenant: tenant}) })
}

// Admin runs fn in a write transaction on the service path. Like Tenant,
// fn must not open another write transaction on this DB (it would wait for
// the one write connection forever).
func (db *DB) Admin(ctx context.Context, fn func(polybot.AdminTx) error) error {
	return db.run(ctx, false, func(t *tx) error { return fn(&adminTx{tx: t}) })
}

// AdminView runs fn in a read-only transaction on the service path.
func (db *DB) AdminView(ctx context.Context, fn func(polybot.AdminTx) error) error {
	return db.run(ctx, true, func(t *tx) error { return fn(&adminTx{tx: t}) })
}

func (db *DB) run(ctx context.Context, readOnly bool, fn func(*tx) error) (err error) {
	pool := db.w
	if readOnly {
		pool = db.r
	}
	stx, err := pool.BeginTx(ctx, &sql.TxOptions{ReadOnly: readOnly})
	if err != nil {
		return polybot.Internal(fmt.Errorf("sqlite: begin: %w", err))
	}
	t := &tx{db: db, ctx: ctx, tx: stx, now: db.now(), readOnly: readOnly}
	done := false
	defer func() {
		if !done {
			stx.Rollback() // fn panicked
			return
		}
		if len(t.unprepared) > 0 {
			db.prepare(ctx, readOnly, t.unprepared)
		}
	}()
	if err := fn(t); err != nil {
		done = true
		stx.Rollback()
		return err
	}
	done = true
	if err := stx.Commit(); err != nil {
		return polybot.Internal(fmt.Errorf("sqlite: commit: %w", err))
	}
	return nil
}

// tx is what tenant and admin transactions share.
type tx struct {
	db       *DB
	ctx      context.Context
	tx       *sql.Tx
	now      time.Time
	readOnly bool

	unprepared []string // queries run without a prepared statement
}

func (t *tx) Now() time.Time { return t.now }

var errReadOnly = errors.New("sqlite: write in a read-only transaction")

// writable fails a write in a view before it reaches SQLite (which would
// refuse it too: view connections are opened read-only).
func (t *tx) writable() error {
	if t.readOnly {
		return polybot.Internal(errReadOnly)
	}
	return nil
}

func (t *tx) exec(q string, args ...any) (sql.Result, error) {
	if s := t.prepared(q); s != nil {
		return s.ExecContext(t.ctx, args...)
	}
	return t.tx.ExecContext(t.ctx, q, args...)
}

// affected runs a write and reports whether it touched a row.
func (t *tx) affected(q string, args ...any) (bool, error) {
	res, err := t.exec(q, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func (t *tx) query(q string, args ...any) (*sql.Rows, error) {
	if s := t.prepared(q); s != nil {
		return s.QueryContext(t.ctx, args...)
	}
	return t.tx.QueryContext(t.ctx, q, args...)
}

func (t *tx) queryRow(q string, args ...any) *sql.Row {
	if s := t.prepared(q); s != nil {
		return s.QueryRowContext(t.ctx, args...)
	}
	return t.tx.QueryRowContext(t.ctx, q, args...)
}

// prepared returns q's prepared statement bound to this transaction, or nil
// the first time q is seen, when it is noted for prepare (after the
// transaction: preparing on the pool inside one could wait for the very
// connection the transaction holds). Every q is a constant of this package,
// so the cache is bounded.
func (t *tx) prepared(q string) *sql.Stmt {
	i := poolIndex(t.readOnly)
	t.db.stmtMu.RLock()
	s := t.db.stmts[i][q]
	t.db.stmtMu.RUnlock()
	if s == nil {
		t.unprepared = append(t.unprepared, q)
		return nil
	}
	return t.tx.StmtContext(t.ctx, s)
}

func poolIndex(readOnly bool) int {
	if readOnly {
		return 1
	}
	return 0
}

// prepare prepares qs on the writer or the readers, outside any transaction.
// A statement that fails to prepare (a table a migration has yet to create)
// just stays unprepared.
func (db *DB) prepare(ctx context.Context, readOnly bool, qs []string) {
	i := poolIndex(readOnly)
	pool := db.w
	if readOnly {
		pool = db.r
	}
	for _, q := range qs {
		db.stmtMu.RLock()
		_, ok := db.stmts[i][q]
		db.stmtMu.RUnlock()
		if ok {
			continue
		}
		s, err := pool.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		db.stmtMu.Lock()
		if _, ok := db.stmts[i][q]; ok {
			s.Close()
		} else {
			db.stmts[i][q] = s
		}
		db.stmtMu.Unlock()
	}
}

// dbError maps a database error to PolyBot's: no rows is ENOTFOUND, a unique
// violation ECONFLICT, a missing referenced row ENOTFOUND, anything else
// EINTERNAL (whose detail is logged, never shown). Messages name the kind of
// thing only, never a value.
func dbError(err error, what string) error {
	if err == nil {
		return nil
	}
	var pe *polybot.Error
	if errors.As(err, &pe) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return polybot.NotFound(what)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return polybot.Errorf(polybot.ECONFLICT, "%s already exists", what)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return polybot.Errorf(polybot.ENOTFOUND, "%s refers to a record that does not exist", what)
		}
	}
	return polybot.Internal(err)
}

// norm is t as the columns keep it: UTC, whole microseconds.
func norm(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func micros(t time.Time) int64 { return t.UnixMicro() }

// nullMicros is the column value of an optional time.
func nullMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

// normPtr normalises an optional time in place.
func normPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := norm(*t)
	return &v
}

// timeCol scans an INTEGER microseconds column into a time.Time.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	v, ok := src.(int64)
	if !ok {
		return fmt.Errorf("sqlite: cannot scan %T into a timestamp", src)
	}
	*c.t = time.UnixMicro(v).UTC()
	return nil
}

// nullTimeCol scans a nullable INTEGER microseconds column into a *time.Time.
type nullTimeCol struct{ t **time.Time }

func (c nullTimeCol) Scan(src any) error {
	if src == nil {
		*c.t = nil
		return nil
	}
	v, ok := src.(int64)
	if !ok {
		return fmt.Errorf("sqlite: cannot scan %T into a timestamp", src)
	}
	tm := time.UnixMicro(v).UTC()
	*c.t = &tm
	return nil
}

type scanner interface{ Scan(dest ...any) error }
