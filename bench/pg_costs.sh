#!/usr/bin/env bash
# What single exchanges cost PostgreSQL: pgbench (one client, prepared statements) runs each of
# the statements an upload and the outbox relay send, for SECONDS each, against a database
# migrated by `migration up`, and prints PostgreSQL's CPU per transaction (all its processes,
# and backends that exited, through the postmaster's children's times). Not part of the tests.
#
#   bench/pg_costs.sh [SECONDS]     (10; needs target/release/migration and a local PostgreSQL)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
server=${BENCH_DB_SERVER:-postgres://postgres@127.0.0.1:5432}
db=imagepipe_pg_costs
bin=$(pg_config --bindir 2>/dev/null || ls -d /usr/lib/postgresql/*/bin | tail -1)
pm_pid=$(pgrep -o -x postgres)
work=$(mktemp -d)
trap 'rm -rf "$work"; psql -q "$server/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null' EXIT

psql -q "$server/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" 2>/dev/null >/dev/null
DATABASE_URL="$server/$db?sslmode=disable" target/release/migration up >/dev/null

echo 'SELECT 1;' >"$work/one-exchange.sql"
cat >"$work/upload-statement.sql" <<'SQL'
WITH task AS (INSERT INTO tasks (id, status, original_key, original_filename, content_type, size_bytes, width, height, owner, callback_url, steps, preset, created_at, updated_at, queued_at) VALUES (gen_random_uuid(), 'PENDING', 'originals/x.jpg', 'photo-2mp.jpg', 'image/jpeg', 490898, 1920, 1440, NULL, NULL, NULL, NULL, now(), now(), now()) RETURNING id) INSERT INTO outbox (task_id, payload, created_at, traceparent) SELECT id, '{"message_id":"m","task_id":"t","original_key":"originals/x.jpg"}'::jsonb, now(), '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' FROM task;
SQL
cat >"$work/empty-relay-pass.sql" <<'SQL'
BEGIN;
DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED) RETURNING id, payload, traceparent;
COMMIT;
SQL

# utime + stime of every PostgreSQL process, plus the postmaster's exited children, in ticks.
pg_ticks() {
  local total=0 p
  for p in $(pgrep -x postgres); do
    set -- $(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null || echo)
    total=$((total + ${12:-0} + ${13:-0}))
  done
  set -- $(sed 's/.*) //' "/proc/$pm_pid/stat")
  echo $((total + ${14} + ${15}))
}

run() { # label script [PGOPTIONS]
  local before after tx
  before=$(pg_ticks)
  tx=$(PGOPTIONS=${3:-} "$bin/pgbench" -n -M prepared -c 1 -T "$secs" -f "$2" "$server/$db" 2>&1 |
    sed -n 's/number of transactions actually processed: \([0-9]*\).*/\1/p')
  sleep 0.5
  after=$(pg_ticks)
  printf '%-58s %8d tx  %6d µs of PostgreSQL CPU each\n' "$1" "$tx" $(((after - before) * 10000 / tx))
}

run "SELECT 1 (one exchange)" "$work/one-exchange.sql"
run "the upload's statement, its commit flushed" "$work/upload-statement.sql"
run "the same, synchronous_commit = off" "$work/upload-statement.sql" "-c synchronous_commit=off"
# The upload runs left their jobs: empty the outbox, then clean it, and keep autovacuum away
# so that the second relay run meets the dead rows it is given.
psql -q "$server/$db" -c "ALTER TABLE outbox SET (autovacuum_enabled = false)" \
  -c "DELETE FROM outbox" -c "VACUUM outbox" >/dev/null
run "a relay pass that finds nothing, outbox vacuumed" "$work/empty-relay-pass.sql"
psql -q "$server/$db" -c "INSERT INTO outbox (task_id, payload, created_at) SELECT id, '{}', now() FROM tasks" \
  -c "DELETE FROM outbox" >/dev/null
run "the same, with the dead rows of $(psql -Atq "$server/$db" -c 'SELECT count(*) FROM tasks') jobs not vacuumed" \
  "$work/empty-relay-pass.sql"
