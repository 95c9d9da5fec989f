package postgres

import "github.com/jackc/pgx/v5/pgxpool"

// Pool exposes the connection pool to the tests of package postgres_test.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }
