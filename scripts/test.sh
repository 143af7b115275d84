#!/usr/bin/env bash
# Run every test: the Kubernetes manifest checks and the test-hooks check first (offline,
# seconds), then unit tests and the end-to-end suite against real PostgreSQL, RabbitMQ and an
# S3 server (started here if none is listening). Extra arguments go to `cargo test`.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

log "validate manifests"
if ! bash "$ROOT/scripts/validate-manifests.sh"; then
  log "FAILED: the Kubernetes manifests under deploy/k8s (problems above; rerun alone with scripts/validate-manifests.sh)"
  exit 1
fi
log "check that production builds lack the test hooks"
bash "$ROOT/scripts/check-test-hooks.sh"
ensure_build_tools
ensure_postgres
ensure_rabbitmq
ensure_s3
ensure_python_tools
ensure_mlserver
ensure_models
ensure_browser
ensure_client_generators

export IMAGEPIPE_TEST_S3_ENDPOINT="http://$S3_HOST:$S3_PORT"
# The fault tests run the services as processes too (to SIGKILL and SIGTERM them), the
# processor with its test hooks. Every cargo call below has the same packages and features, so
# nothing is built twice.
TEST_BUILD=(--workspace --features imagepipe-processor/test-hooks)
# The binaries and every test target in one build: the processor's library and its unit-test
# build (the two longest compiles) then run beside each other instead of one after the other.
log "cargo build ${TEST_BUILD[*]} --bins --tests"
cargo build "${TEST_BUILD[@]}" --bins --tests "$@"
# Every crate's tests, in parallel, but the end-to-end tests that cut dependencies or kill
# services (the module `serial`, matched by name)...
log "cargo test ${TEST_BUILD[*]} -- --skip serial::"
cargo test "${TEST_BUILD[@]}" "$@" -- --skip serial::
# ...which run after, apart and one at a time.
log "cargo test ${TEST_BUILD[*]} --test e2e -- serial:: --test-threads=1"
cargo test "${TEST_BUILD[@]}" --test e2e "$@" -- serial:: --test-threads=1
