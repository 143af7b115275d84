#!/usr/bin/env bash
# The whole system, in release mode, for the load benchmarks: its own database
# (imagepipe_bench), queue prefix (imagepipe-bench), S3 server (imagepipe-s3-server in
# release, as scripts/run.sh uses, on 127.0.0.1:19000 with data in .local/bench/s3; BENCH_SHARED_S3=1 uses the one on
# S3_ENDPOINT or :9000 instead), buckets (imagepipe-bench-uploads, imagepipe-bench-processed)
# and ports (18080 ingest, 18081 processor, 18082 result-writer), so it runs beside
# `scripts/run.sh` and the tests without touching them.
#
#   bench/system.sh start     build, fresh database, start the three services, wait until ready
#   bench/system.sh stop      stop them and the S3 server (pids recorded at start), delete the
#                             bench queues and the objects
#   bench/system.sh status    pids, settings, readiness
#
# Settings are the services' own variables, taken from the environment with these defaults:
# PROCESSING_DELAY_MS=5000, PROCESSOR_CONCURRENCY=8, MAX_UPLOAD_BYTES=20971520,
# MAX_BACKLOG=10000, LOG_FORMAT=json, RUST_LOG=info, SHUTDOWN_GRACE_SECS=2; any other variable
# a service reads (see the README's Settings) passes through. BENCH_BUILD=0 skips the build.
# BENCH_S3_BIN runs another S3 server binary taking imagepipe-s3-server's flags (--bind,
# --data, --access-key, --secret-key), e.g. a patched build.
# BENCH_S3_CPUS (e.g. 1) runs the S3 server alone on those CPUs and everything else (the three
# services, the `load` client, PostgreSQL, RabbitMQ) on the others, as if the object store had
# a machine of its own; stop puts PostgreSQL and RabbitMQ back on every CPU.
# BENCH_DB_PARAMS is appended to the services' DATABASE_URL, e.g. `?sslmode=disable`: this
# machine's PostgreSQL has TLS on, so the services negotiate it (sqlx's `prefer`), while
# compose's postgres image has it off.
# PROCESSOR_BIN and INGEST_BIN run another processor or ingest binary (a patched build, or the
# one before a change, to measure it side by side), named by BENCH_VARIANT in the results;
# PROCESSOR_NICE (0) lowers the processor's CPU priority.
# State (pid files, logs) goes to .local/bench/system (BENCH_STATE). bench/load.sh sources this
# file for its functions.

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../scripts/lib.sh
source "$BENCH_DIR/../scripts/lib.sh" # ROOT, LOCAL, log, port_open, ensure_*

BENCH_DB_SERVER=${BENCH_DB_SERVER:-postgres://postgres@127.0.0.1:5432}
BENCH_DB=${BENCH_DB:-imagepipe_bench}
BENCH_INGEST_PORT=${BENCH_INGEST_PORT:-18080}
BENCH_PROCESSOR_PORT=${BENCH_PROCESSOR_PORT:-18081}
BENCH_WRITER_PORT=${BENCH_WRITER_PORT:-18082}
BENCH_S3_PORT=${BENCH_S3_PORT:-19000}
BENCH_S3_DATA=${BENCH_S3_DATA:-$LOCAL/bench/s3}
RABBITMQ_API=${RABBITMQ_API:-http://127.0.0.1:15672/api}
export BENCH_STATE=${BENCH_STATE:-$LOCAL/bench/system}
BENCH_SERVICES=(ingest processor result-writer)

# The environment of the services (and of the `load` client, which reads the same names).
bench_env() {
  export DATABASE_URL="$BENCH_DB_SERVER/$BENCH_DB${BENCH_DB_PARAMS:-}"
  export AMQP_URL=${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}
  export AMQP_PREFIX=${AMQP_PREFIX:-imagepipe-bench}
  if [ "${BENCH_SHARED_S3:-0}" = 1 ]; then
    export S3_ENDPOINT=${S3_ENDPOINT:-http://$S3_HOST:$S3_PORT}
  else
    export S3_ENDPOINT="http://127.0.0.1:$BENCH_S3_PORT"
  fi
  export UPLOADS_BUCKET=${UPLOADS_BUCKET:-imagepipe-bench-uploads}
  export PROCESSED_BUCKET=${PROCESSED_BUCKET:-imagepipe-bench-processed}
  export INGEST_BIND="127.0.0.1:$BENCH_INGEST_PORT"
  export PROCESSING_DELAY_MS=${PROCESSING_DELAY_MS:-5000}
  export PROCESSOR_CONCURRENCY=${PROCESSOR_CONCURRENCY:-8}
  export MAX_UPLOAD_BYTES=${MAX_UPLOAD_BYTES:-20971520}
  export MAX_BACKLOG=${MAX_BACKLOG:-10000}
  export SHUTDOWN_GRACE_SECS=${SHUTDOWN_GRACE_SECS:-2}
  export LOG_FORMAT=${LOG_FORMAT:-json}
  export RUST_LOG=${RUST_LOG:-info}
  export BENCH_INGEST_URL="http://127.0.0.1:$BENCH_INGEST_PORT"
  export BENCH_PROCESSOR_URL="http://127.0.0.1:$BENCH_PROCESSOR_PORT"
  export PROCESSOR_BIN=${PROCESSOR_BIN:-$ROOT/target/release/imagepipe-processor}
  export BENCH_VARIANT=${BENCH_VARIANT:-head}
}

bench_build() {
  ensure_build_tools
  log "cargo build --release (bench, ingest, processor, result-writer, migration)"
  (cd "$ROOT" && cargo build --quiet --release -p imagepipe-bench -p imagepipe-ingest \
    -p imagepipe-processor -p imagepipe-result-writer -p imagepipe-migration)
}

# A pid recorded by start, if that process is still the one started.
bench_pid() {
  local file="$BENCH_STATE/$1.pid" pid
  [ -f "$file" ] || return 1
  pid=$(cat "$file")
  [ -d "/proc/$pid" ] && grep -qE '^imagepipe-' "/proc/$pid/comm" 2>/dev/null && echo "$pid"
}

# The benchmark's own S3 server: the workspace's, over a folder of its own, started afresh
# each time.
bench_start_s3() {
  [ "${BENCH_SHARED_S3:-0}" = 1 ] && return 0
  local server=${BENCH_S3_BIN:-$ROOT/target/release/imagepipe-s3-server}
  if [ -z "${BENCH_S3_BIN:-}" ] && [ "${BENCH_BUILD:-1}" != 0 ]; then
    cargo build --release --locked -p imagepipe-s3-server
  fi
  if port_open 127.0.0.1 "$BENCH_S3_PORT"; then
    log "port $BENCH_S3_PORT is taken: stop what listens there or set BENCH_S3_PORT"
    return 1
  fi
  rm -rf "$BENCH_S3_DATA" && mkdir -p "$BENCH_S3_DATA" "$BENCH_STATE"
  nohup "$server" --bind "127.0.0.1:$BENCH_S3_PORT" --data "$BENCH_S3_DATA" \
    --access-key "${S3_ACCESS_KEY:-minioadmin}" --secret-key "${S3_SECRET_KEY:-minioadmin}" \
    >"$BENCH_STATE/s3-server.log" 2>&1 &
  echo $! >"$BENCH_STATE/s3-server.pid"
  wait_port 127.0.0.1 "$BENCH_S3_PORT" "the S3 server"
}

# The CPUs not in BENCH_S3_CPUS, as a taskset list.
bench_other_cpus() {
  local cpu others=()
  for ((cpu = 0; cpu < $(nproc); cpu++)); do
    [[ ",$BENCH_S3_CPUS," == *",$cpu,"* ]] || others+=("$cpu")
  done
  (IFS=,; echo "${others[*]}")
}

# The shared servers' processes (every thread: taskset -a).
bench_shared_server_pids() { pgrep -x postgres; pgrep -x beam.smp; }

bench_pin() {
  [ -n "${BENCH_S3_CPUS:-}" ] || return 0
  local others pid name
  others=$(bench_other_cpus)
  taskset -a -p -c "$BENCH_S3_CPUS" "$(bench_pid s3-server)" >/dev/null
  for name in "${BENCH_SERVICES[@]}"; do
    taskset -a -p -c "$others" "$(bench_pid "$name")" >/dev/null
  done
  for pid in $(bench_shared_server_pids); do taskset -a -p -c "$others" "$pid" >/dev/null || true; done
  log "pinned: S3 server on CPU $BENCH_S3_CPUS; services, PostgreSQL and RabbitMQ on CPU $others"
}

bench_unpin() {
  [ -n "${BENCH_S3_CPUS:-}" ] || return 0
  local pid
  for pid in $(bench_shared_server_pids); do
    taskset -a -p -c "0-$(($(nproc) - 1))" "$pid" >/dev/null || true
  done
}

wait_ready() { # url what [seconds]
  local i
  for ((i = 0; i < ${3:-60} * 10; i++)); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  log "$2 not ready at $1 after ${3:-60} s (log: $BENCH_STATE/$2.log)"
  return 1
}

# Delete every queue named $AMQP_PREFIX.* (the services declare them again at start).
bench_delete_queues() {
  local q
  curl -fsS -u guest:guest "$RABBITMQ_API/queues/%2F?columns=name" 2>/dev/null |
    jq -r '.[].name' | grep -F "$AMQP_PREFIX." | while read -r q; do
    [[ $q == "$AMQP_PREFIX."* ]] || continue
    curl -fsS -u guest:guest -X DELETE "$RABBITMQ_API/queues/%2F/$q" >/dev/null || true
  done || true
}

bench_cleanup_buckets() {
  "$ROOT/target/release/load" cleanup 2>&1 | sed 's/^/    /' >&2 || true
}

system_stop() {
  bench_env
  local name pid pids=() i
  for name in "${BENCH_SERVICES[@]}"; do
    if pid=$(bench_pid "$name"); then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
    rm -f "$BENCH_STATE/$name.pid"
  done
  for ((i = 0; i < 150; i++)); do
    local alive=0
    for pid in "${pids[@]}"; do [ -d "/proc/$pid" ] && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do
    [ -d "/proc/$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  done
  [ ${#pids[@]} -gt 0 ] && log "stopped the bench system (pids ${pids[*]})"
  bench_unpin
  bench_delete_queues
  if [ "${BENCH_SHARED_S3:-0}" = 1 ]; then
    [ -x "$ROOT/target/release/load" ] && bench_cleanup_buckets
  elif pid=$(bench_pid s3-server); then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
    rm -f "$BENCH_STATE/s3-server.pid"
    rm -rf "$BENCH_S3_DATA"
  fi
  return 0
}

system_start() {
  bench_env
  ensure_postgres
  ensure_rabbitmq
  [ "${BENCH_SHARED_S3:-0}" = 1 ] && ensure_s3
  [ "${BENCH_BUILD:-1}" = 0 ] || bench_build
  system_stop >/dev/null 2>&1 || true
  bench_start_s3
  local port
  for port in "$BENCH_INGEST_PORT" "$BENCH_PROCESSOR_PORT" "$BENCH_WRITER_PORT"; do
    if port_open 127.0.0.1 "$port"; then
      log "port $port is taken: stop what listens there or set BENCH_*_PORT"
      return 1
    fi
  done
  mkdir -p "$BENCH_STATE"
  psql -q "$BENCH_DB_SERVER/postgres" -c "DROP DATABASE IF EXISTS \"$BENCH_DB\" WITH (FORCE)" \
    -c "CREATE DATABASE \"$BENCH_DB\"" >/dev/null
  (cd "$ROOT" && target/release/migration up >"$BENCH_STATE/migration.log" 2>&1)
  bench_delete_queues
  cd "$ROOT"
  nohup "${INGEST_BIN:-target/release/imagepipe-ingest}" >"$BENCH_STATE/ingest.log" 2>&1 &
  echo $! >"$BENCH_STATE/ingest.pid"
  HEALTH_BIND="127.0.0.1:$BENCH_PROCESSOR_PORT" \
    nohup nice -n "${PROCESSOR_NICE:-0}" "$PROCESSOR_BIN" >"$BENCH_STATE/processor.log" 2>&1 &
  echo $! >"$BENCH_STATE/processor.pid"
  HEALTH_BIND="127.0.0.1:$BENCH_WRITER_PORT" \
    nohup target/release/imagepipe-result-writer >"$BENCH_STATE/result-writer.log" 2>&1 &
  echo $! >"$BENCH_STATE/result-writer.pid"
  cd - >/dev/null
  wait_ready "$BENCH_INGEST_URL/health/ready" ingest &&
    wait_ready "http://127.0.0.1:$BENCH_PROCESSOR_PORT/health/ready" processor &&
    wait_ready "http://127.0.0.1:$BENCH_WRITER_PORT/health/ready" result-writer || {
    system_stop
    return 1
  }
  bench_pin
  log "bench system up at $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- services shared || echo '+dirty'):" \
    "ingest $(cat "$BENCH_STATE/ingest.pid"), processor $(cat "$BENCH_STATE/processor.pid")," \
    "result-writer $(cat "$BENCH_STATE/result-writer.pid");" \
    "PROCESSING_DELAY_MS=$PROCESSING_DELAY_MS PROCESSOR_CONCURRENCY=$PROCESSOR_CONCURRENCY" \
    "MAX_UPLOAD_BYTES=$MAX_UPLOAD_BYTES${PROCESSOR_BIN:+ processor $PROCESSOR_BIN}${INGEST_BIN:+ ingest $INGEST_BIN}" \
    "nice ${PROCESSOR_NICE:-0} ($BENCH_VARIANT)"
}

system_status() {
  bench_env
  local name pid
  for name in "${BENCH_SERVICES[@]}" s3-server; do
    if pid=$(bench_pid "$name"); then
      echo "$name: pid $pid, VmRSS $(awk '/^VmRSS/ {print $2, $3}' "/proc/$pid/status")"
    else
      echo "$name: not running"
    fi
  done
  curl -fsS "$BENCH_INGEST_URL/health/ready" 2>/dev/null && echo || echo "ingest: not ready"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:-}" in
    start) system_start ;;
    stop) system_stop ;;
    status) system_status ;;
    *)
      echo "usage: bench/system.sh start|stop|status" >&2
      exit 2
      ;;
  esac
fi
