#!/usr/bin/env bash
# Bring the whole system up on this machine: S3 server, database, migrations, RabbitMQ
# console, and the three services. Ctrl-C stops the services.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_build_tools
ensure_postgres
ensure_rabbitmq
ensure_s3 release
# The face model and the ONNX Runtime library (FACE_MODEL_PATH, ONNXRUNTIME_LIBRARY).
ensure_models

export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/imagepipe}
export S3_ENDPOINT=${S3_ENDPOINT:-http://$S3_HOST:$S3_PORT}

# What runs below and nothing else, so the binaries are those deploy/Dockerfile builds (no
# feature that only tests or benchmarks turn on).
log "building the services and the migration CLI (release)"
cargo build --release --bins \
  -p imagepipe-ingest -p imagepipe-processor -p imagepipe-result-writer -p imagepipe-migration

db_name=${DATABASE_URL##*/}
db_name=${db_name%%\?*}
if ! psql "${DATABASE_URL%/*}/postgres" -tAc "select 1 from pg_database where datname='$db_name'" | grep -q 1; then
  log "creating database $db_name"
  psql "${DATABASE_URL%/*}/postgres" -c "create database \"$db_name\"" >/dev/null
fi
log "running migrations"
target/release/migration up

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
target/release/imagepipe-ingest &
pids+=($!)
HEALTH_BIND=${PROCESSOR_HEALTH_BIND:-0.0.0.0:8081} target/release/imagepipe-processor &
pids+=($!)
HEALTH_BIND=${RESULT_WRITER_HEALTH_BIND:-0.0.0.0:8082} target/release/imagepipe-result-writer &
pids+=($!)
log "imagepipe is up: API http://localhost:8080/api/v1, Swagger UI http://localhost:8080/docs,"
log "RabbitMQ console http://localhost:15672 (guest/guest). Ctrl-C stops the services."
wait -n "${pids[@]}"
