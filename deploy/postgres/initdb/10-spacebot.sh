#!/bin/bash
# Creates the roles and databases the stack needs. The postgres image runs this file from
# /docker-entrypoint-initdb.d once, on the first start of an EMPTY data volume, as the superuser
# (POSTGRES_USER) against a temporary server that listens on the Unix socket only. It is not re-run
# later: changing TEMPORAL_DB_PASSWORD / SPACEBOT_DB_PASSWORD afterwards needs
#   docker compose exec postgres psql -U postgres -c "ALTER ROLE spacebot PASSWORD '...'"
#
#   temporal             role, owns databases temporal + temporal_visibility (schema: temporal-schema job)
#   spacebot             role, owns database spacebot (tables: the app's own migrations at start)
#   vector extension     created here in spacebot as superuser, so the app's
#                        `CREATE EXTENSION IF NOT EXISTS vector` is a no-op and needs no superuser
# Each role can connect only to its own databases (CONNECT revoked from PUBLIC).
# The image executes this file when it is executable and sources it otherwise (e.g. a checkout that
# lost the x bit), so no `set -u`: the image's entrypoint is not written for it.
set -eo pipefail

: "${TEMPORAL_DB_PASSWORD:?TEMPORAL_DB_PASSWORD must be set for the postgres service}"
: "${SPACEBOT_DB_PASSWORD:?SPACEBOT_DB_PASSWORD must be set for the postgres service}"

# Passwords go in as psql variables and are quoted by psql (:'var'), never spliced into SQL text.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v temporal_password="$TEMPORAL_DB_PASSWORD" \
  -v spacebot_password="$SPACEBOT_DB_PASSWORD" <<'SQL'
CREATE ROLE temporal LOGIN PASSWORD :'temporal_password';
CREATE ROLE spacebot LOGIN PASSWORD :'spacebot_password';

CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
CREATE DATABASE spacebot OWNER spacebot;

REVOKE ALL ON DATABASE temporal, temporal_visibility, spacebot FROM PUBLIC;

\connect spacebot
CREATE EXTENSION IF NOT EXISTS vector;
SQL

echo "spacebot init: created roles temporal, spacebot and databases temporal, temporal_visibility, spacebot"
