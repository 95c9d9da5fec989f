#!/bin/sh
# Run once by the postgres image on an empty data directory: creates PolyBot's
# application login role with the password from POLYBOT_APP_PASSWORD, with the
# attributes internal/postgres/bootstrap.sql gives it. `polybot migrate` then
# creates the other roles, the tables and the RLS policies, and keeps this
# role's password.
set -eu
: "${POLYBOT_APP_PASSWORD:?POLYBOT_APP_PASSWORD is not set}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
	-v app_password="$POLYBOT_APP_PASSWORD" <<'SQL'
CREATE ROLE polybot_app LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD :'app_password';
SQL
