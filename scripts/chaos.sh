#!/usr/bin/env bash
# Chaos under load, one command: the serial end-to-end test `serial::chaos` (2 ingest, 3
# processors, 2 result-writers as processes; steady load; a random fault every few seconds;
# then the checker's accounting of every accepted upload), run for SECONDS (default 1800),
# with the services' logs kept. Prints the run's figures; exits non-zero if any count that
# must be zero is not. The method: docs/reliability-chaos.md.
#
#   scripts/chaos.sh [SECONDS] [SEED]
#
# SEED (CHAOS_SEED) replays a run's faults: the same draws at the same offsets (the load's
# timing, and so what each fault meets, still varies).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

export CHAOS_SECS="${1:-1800}"
if [ -n "${2:-}" ]; then
  export CHAOS_SEED="$2"
fi
ensure_build_tools
ensure_postgres
ensure_rabbitmq
ensure_s3
ensure_models
export IMAGEPIPE_TEST_S3_ENDPOINT="http://$S3_HOST:$S3_PORT"

RUN="$LOCAL/chaos/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$RUN"
export CHAOS_LOG_DIR="$RUN"
# The same packages and features as scripts/test.sh, so nothing is built twice.
BUILD=(--workspace --features imagepipe-processor/test-hooks)
log "cargo build ${BUILD[*]} --bins --tests"
cargo build "${BUILD[@]}" --bins --tests
log "chaos for $CHAOS_SECS s (services' logs and the run's output in ${RUN#"$ROOT"/})"
status=0
cargo test "${BUILD[@]}" --test e2e -- serial::chaos --test-threads=1 --nocapture \
  >"$RUN/run.log" 2>&1 || status=$?
sed -n '/^---- chaos figures ----$/,/^-----------------------$/p' "$RUN/run.log"
grep '^chaos: the test took' "$RUN/run.log" || true
if [ "$status" -ne 0 ]; then
  log "FAILED (exit $status): see $RUN/run.log"
fi
exit "$status"
