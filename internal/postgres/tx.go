package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/polybot/polybot"
)

// identity is who a transaction runs as: the role it switches to and the JWT
// claims that auth.uid() reads.
type identity struct {
	claims string // request.jwt.claims; empty on the service path
	role   string
}

var serviceIdentity = identity{role: ServiceRole}

func tenantIdentity(tenant polybot.ID) identity {
	// A canonical UUID needs no JSON escaping.
	return identity{claims: `{"sub":"` + tenant.String() + `","role":"authenticated"}`, role: AuthenticatedRole}
}

// setIdentity scopes the transaction's claims and role to the transaction
// (is_local = true): COMMIT or ROLLBACK resets both.
const setIdentity = `SELECT set_config('request.jwt.claims', $1, true), set_config('role', $2, true)`

var (
	readWrite = pgx.TxOptions{}
	readOnly  = pgx.TxOptions{AccessMode: pgx.ReadOnly}
)

// Tenant runs fn in one transaction as the tenant.
func (db *DB) Tenant(ctx context.Context, tenant polybot.ID, fn func(polybot.TenantTx) error) error {
	return db.tenant(ctx, tenant, false, fn)
}

// TenantView runs fn in one read-only transaction as the tenant.
func (db *DB) TenantView(ctx context.Context, tenant polybot.ID, fn func(polybot.TenantTx) error) error {
	return db.tenant(ctx, tenant, true, fn)
}

// Admin runs fn in one transaction on the service path.
func (db *DB) Admin(ctx context.Context, fn func(polybot.AdminTx) error) error {
	return db.run(ctx, serviceIdentity, false, func(t *txn) error { return fn(&adminTx{t}) })
}

// AdminView runs fn in one read-only transaction on the service path.
func (db *DB) AdminView(ctx context.Context, fn func(polybot.AdminTx) error) error {
	return db.run(ctx, serviceIdentity, true, func(t *txn) error { return fn(&adminTx{t}) })
}

func (db *DB) tenant(ctx context.Context, tenant polybot.ID, ro bool, fn func(polybot.TenantTx) error) error {
	if tenant.IsZero() {
		return polybot.Errorf(polybot.EFORBIDDEN, "no tenant")
	}
	return db.run(ctx, tenantIdentity(tenant), ro, func(t *txn) error {
		return fn(&tenantTx{txn: t, tenant: tenant})
	})
}

// txn is one transaction on one pooled connection. The transaction begins
// lazily: its first query is sent in one batch with BEGIN and the identity,
// so that it costs one round trip. A txn is not safe for concurrent use.
type txn struct {
	ctx  context.Context
	conn *pgxpool.Conn
	id   identity
	opts pgx.TxOptions
	tx   pgx.Tx // nil until the first query
	now  time.Time
	key  polybot.AuditKey // the store's audit key when the transaction began
	// err, once set, fails every later query: the transaction did not begin
	// with its identity, or fn has returned and the connection is back in
	// the pool.
	err error
	// as, when set, is the role each statement runs as instead of id.role,
	// switched to and back in the same round trip. Tenant methods set it to
	// TenantAppRole for the application's own writes of what the risk gate
	// trusts (quota counters, intents, fills, holdings, daily P&L) and for
	// deletes. The tenant's claims stay set, so RLS binds every row to the
	// tenant as before; authenticated itself holds no such grant.
	as string
}

// setRole switches the transaction's role until the next switch or its end.
const setRole = `SELECT set_config('role', $1, true)`

var errTxDone = errors.New("postgres: transaction used after its function returned")

// run runs fn in a transaction as id. fn's error is returned as it is, after
// a rollback; a failed commit is an internal error.
func (db *DB) run(ctx context.Context, id identity, ro bool, fn func(*txn) error) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return polybot.Internal(err)
	}
	t := &txn{ctx: ctx, conn: conn, id: id, opts: readWrite, now: db.now(), key: db.key()}
	if ro {
		t.opts = readOnly
	}
	defer func() {
		t.err = errTxDone
		// Whatever way fn left (error, panic, or a commit that did not
		// happen), the transaction is over before the connection goes back.
		// A connection that cannot roll back is closed, and the pool drops
		// any connection that is not idle.
		if t.tx != nil {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_ = t.tx.Rollback(rctx)
			cancel()
		}
		conn.Release()
	}()
	err = fn(t)
	t.err = errTxDone
	if err != nil {
		return err
	}
	if t.tx == nil {
		return nil // fn ran no query
	}
	tx := t.tx
	t.tx = nil
	if err := tx.Commit(ctx); err != nil {
		if conn.Conn().PgConn().TxStatus() != 'I' {
			t.tx = tx
		}
		return mapErr(err, "transaction")
	}
	return nil
}

// query runs sql with args and calls each (which may be nil) for every row
// until each returns an error. Errors are raw: callers map them.
func (t *txn) query(sql string, args []any, each func(pgx.Rows) error) (pgconn.CommandTag, error) {
	var (
		rows pgx.Rows
		br   pgx.BatchResults
		err  error
	)
	if t.err != nil {
		return pgconn.CommandTag{}, t.err
	}
	as := t.as
	switch {
	case t.tx == nil:
		b := &pgx.Batch{}
		b.BeginTx(t.opts)
		b.Queue(setIdentity, t.id.claims, t.id.role)
		if as != "" {
			b.Queue(setRole, as)
		}
		b.Queue(sql, args...)
		if as != "" {
			b.Queue(setRole, t.id.role)
		}
		br = t.conn.SendBatch(t.ctx, b)
		t.tx = br.Tx()
		if _, err = br.Exec(); err == nil {
			_, err = br.Exec()
		}
		if err != nil {
			_ = br.Close()
			t.err = err
			return pgconn.CommandTag{}, err
		}
		if as != "" {
			if _, err = br.Exec(); err != nil {
				_ = br.Close()
				return pgconn.CommandTag{}, err
			}
		}
		rows, _ = br.Query()
	case as != "":
		b := &pgx.Batch{}
		b.Queue(setRole, as)
		b.Queue(sql, args...)
		b.Queue(setRole, t.id.role)
		br = t.conn.SendBatch(t.ctx, b)
		if _, err = br.Exec(); err != nil {
			_ = br.Close()
			return pgconn.CommandTag{}, err
		}
		rows, _ = br.Query()
	default:
		rows, _ = t.conn.Query(t.ctx, sql, args...)
	}
	for err == nil && rows.Next() {
		if each != nil {
			err = each(rows)
		}
	}
	rows.Close()
	if rerr := rows.Err(); rerr != nil {
		err = rerr
	}
	tag := rows.CommandTag()
	if br != nil && as != "" && err == nil {
		_, err = br.Exec() // back to the transaction's own role
	}
	if br != nil {
		if cerr := br.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	return tag, err
}

// queryRow scans the first row of sql into dest; no row is pgx.ErrNoRows.
func (t *txn) queryRow(sql string, args []any, dest ...any) error {
	found := false
	_, err := t.query(sql, args, func(r pgx.Rows) error {
		if found {
			return nil
		}
		found = true
		return r.Scan(dest...)
	})
	if err == nil && !found {
		err = pgx.ErrNoRows
	}
	return err
}

// exec runs sql and returns the number of rows it affected.
func (t *txn) exec(sql string, args ...any) (int64, error) {
	tag, err := t.query(sql, args, nil)
	return tag.RowsAffected(), err
}

// Now is the transaction's one clock reading.
func (t *txn) Now() time.Time { return t.now }

// uid is the form in which IDs travel to uuid parameters.
func uid(id polybot.ID) [16]byte { return id }

// nullUID is uid for an optional ID.
func nullUID(id *polybot.ID) any {
	if id == nil {
		return nil
	}
	return [16]byte(*id)
}

// utc returns *t in UTC, or nil.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// jsonText marshals v for a jsonb parameter.
func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}
