#!/bin/sh
# First start of the postgres volume only (docker-entrypoint-initdb.d): the job database and its
# owner, beside the Prefect database that POSTGRES_DB creates.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v pw="$CLIPFLOW_DB_PASSWORD" <<'SQL'
CREATE ROLE clipflow LOGIN PASSWORD :'pw';
CREATE DATABASE clipflow OWNER clipflow;
SQL
