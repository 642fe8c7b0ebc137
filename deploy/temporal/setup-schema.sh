#!/bin/sh
# One-shot job (service temporal-schema, image temporalio/admin-tools): creates or upgrades the
# Temporal persistence and visibility schemas in PostgreSQL. Idempotent: `setup-schema -v 0.0` only
# creates the version tables on an empty database (it leaves a newer recorded version alone) and
# `update-schema` applies just the versioned steps not yet recorded, so this runs on every
# `docker compose up` and after an image upgrade brings new schema versions.
# Connection settings come from SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER and SQL_PASSWORD
# (temporal-sql-tool's own environment variables), so the password never shows up in `ps`.
set -eu

SCHEMA_ROOT=/etc/temporal/schema/postgresql/v12

retry() {
  attempt=1
  until "$@"; do
    if [ "$attempt" -ge 10 ]; then
      echo "temporal-schema: giving up after $attempt attempts: $*" >&2
      return 1
    fi
    echo "temporal-schema: attempt $attempt failed, retrying in 3s: $*" >&2
    attempt=$((attempt + 1))
    sleep 3
  done
}

setup() {
  db="$1"
  dir="$SCHEMA_ROOT/$2/versioned"
  echo "temporal-schema: database $db <- $dir"
  retry temporal-sql-tool --db "$db" setup-schema -v 0.0
  retry temporal-sql-tool --db "$db" update-schema -d "$dir"
}

setup "${TEMPORAL_DBNAME:-temporal}" temporal
setup "${TEMPORAL_VISIBILITY_DBNAME:-temporal_visibility}" visibility
echo "temporal-schema: done"
