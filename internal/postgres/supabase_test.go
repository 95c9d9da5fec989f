package postgres_test

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/postgres"
	"github.com/polybot/polybot/internal/postgres/pgtest"
	"github.com/polybot/polybot/internal/storetest"
)

// supabaseUID is Supabase's own auth.uid().
const supabaseUID = `CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
	SELECT coalesce(
		nullif(current_setting('request.jwt.claim.sub', true), ''),
		(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
	)::uuid
$$`

// supabaseLike makes a database shaped like a Supabase project and returns
// the URL of its CREATEROLE admin and a superuser connection to it. With
// authMember the admin is a member of the auth schema's owner, as postgres
// is of supabase_auth_admin.
func supabaseLike(t *testing.T, authMember bool) (string, *pgx.Conn) {
	t.Helper()
	pgtest.NewDatabase(t) // skips or fails when the server is unreachable
	ctx := context.Background()
	srv, err := pgx.Connect(ctx, pgtest.ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(ctx)

	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	admin := "polybot_test_admin_" + suffix
	authOwner := "polybot_test_authowner_" + suffix
	dbname := "polybot_test_" + strconv.FormatInt(time.Now().Unix(), 10) + "_sb" + suffix
	create := `CREATE ROLE ` + admin + ` LOGIN CREATEROLE`
	if authMember {
		create += ` IN ROLE ` + authOwner
	}
	for _, stmt := range []string{`CREATE ROLE ` + authOwner + ` NOLOGIN NOINHERIT`, create} {
		if _, err := srv.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), pgtest.ServerURL())
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), `DROP DATABASE IF EXISTS `+dbname+` WITH (FORCE)`); err != nil {
			t.Error(err)
		}
		for _, r := range []string{admin, authOwner} {
			if _, err := c.Exec(context.Background(), `DROP ROLE IF EXISTS `+r); err != nil {
				t.Error(err)
			}
		}
	})
	if _, err := srv.Exec(ctx, `CREATE DATABASE `+dbname+` OWNER `+admin+` TEMPLATE template0`); err != nil {
		t.Fatal(err)
	}

	u, err := url.Parse(pgtest.ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + dbname
	superURL := u.String()
	u.User = url.User(admin)
	adminURL := u.String()

	// Supabase's auth schema, owned by another role, as supabase_auth_admin owns it.
	sup, err := pgx.Connect(ctx, superURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sup.Close(context.Background()) })
	for _, stmt := range []string{
		`CREATE SCHEMA auth AUTHORIZATION ` + authOwner,
		`SET ROLE ` + authOwner,
		supabaseUID,
		`GRANT USAGE ON SCHEMA auth TO authenticated`,
		`RESET ROLE`,
	} {
		if _, err := sup.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}

	return adminURL, sup
}

// TestMigrateExplainsAMissingGrantOnSupabaseAuth: when the admin cannot
// grant on the auth schema, Migrate says which GRANT its owner must run.
func TestMigrateExplainsAMissingGrantOnSupabaseAuth(t *testing.T) {
	adminURL, _ := supabaseLike(t, false)
	_, err := postgres.Migrate(context.Background(), adminURL)
	if err == nil || !strings.Contains(err.Error(), "GRANT USAGE ON SCHEMA auth TO polybot_owner") {
		t.Fatalf("Migrate without rights on auth: %v, want the GRANT to run", err)
	}
}

// TestMigrateRunsAsACreateRoleAdminBesideSupabaseAuth reproduces a Supabase
// project: the admin role (postgres there) is not a superuser but has
// CREATEROLE and owns the database; the auth schema, auth.uid() and the
// authenticated role already exist, and auth belongs to another role
// (supabase_auth_admin) that the admin is a member of. Migrate must leave
// them alone, and the store must work on top of them.
func TestMigrateRunsAsACreateRoleAdminBesideSupabaseAuth(t *testing.T) {
	ctx := context.Background()
	adminURL, sup := supabaseLike(t, true)
	if v, err := postgres.Migrate(ctx, adminURL); err != nil || v != postgres.SchemaVersion() {
		t.Fatalf("Migrate as a CREATEROLE admin = %d, %v", v, err)
	}
	var def string
	if err := sup.QueryRow(ctx, `SELECT pg_get_functiondef('auth.uid()'::regprocedure)`).Scan(&def); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(def, "request.jwt.claim.sub") {
		t.Fatalf("Migrate replaced Supabase's auth.uid():\n%s", def)
	}

	appURL, err := postgres.AppURL(adminURL, "")
	if err != nil {
		t.Fatal(err)
	}
	db, err := postgres.Open(ctx, appURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetAuditKey(storetest.TestAuditKey)
	a := seedTenant(t, db, "a@example.com")
	b := seedTenant(t, db, "b@example.com")
	err = db.TenantView(ctx, a, func(tx polybot.TenantTx) error {
		trail, err := tx.AuditTrail(0, 10)
		if err != nil {
			return err
		}
		if len(trail) != 1 || *trail[0].UserID != a {
			t.Errorf("A's audit trail = %+v", trail)
		}
		if _, err := tx.Secret(polybot.Kalshi, true); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.TenantView(ctx, a, func(tx polybot.TenantTx) error {
		_ = b
		c, err := tx.Config()
		if err == nil && c.UserID != a {
			t.Errorf("A read %s's config", c.UserID)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Migrate(ctx, adminURL); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
}
