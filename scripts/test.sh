#!/usr/bin/env bash
# Run every test: the test-hooks check (offline, a second), the build, the Kubernetes,
# Compose and Dockerfile checks, then unit tests and the end-to-end suite against real
# PostgreSQL, RabbitMQ and an S3 server (started here if none is listening). Extra arguments
# go to `cargo build` and `cargo test`.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

log "check that production builds lack the test hooks"
bash "$ROOT/scripts/check-test-hooks.sh"
ensure_build_tools
ensure_postgres
ensure_rabbitmq

export IMAGEPIPE_TEST_S3_ENDPOINT="http://$S3_HOST:$S3_PORT"
# The fault tests run the services as processes too (to SIGKILL and SIGTERM them), the
# processor with its test hooks. Every cargo call below has the same packages and features, so
# nothing is built twice.
TEST_BUILD=(--workspace --features imagepipe-processor/test-hooks)
# The binaries and every test target in one build: the processor's library and its unit-test
# build (the two longest compiles) then run beside each other instead of one after the other.
log "cargo build ${TEST_BUILD[*]} --bins --tests"
cargo build "${TEST_BUILD[@]}" --bins --tests "$@"

# What the tests install into .local (venvs, MLServer, models, Chromium, npm packages): after
# the build, and after any installer still running (.ci/run starts them in the background
# before it compiles, holding the install lock), so two never write the same venv.
hold_install_lock
log "validate manifests"
if ! bash "$ROOT/scripts/validate-manifests.sh"; then
  log "FAILED: the deployment files under deploy/ or docker-compose.yml (problems above; rerun alone with scripts/validate-manifests.sh)"
  exit 1
fi
ensure_python_tools
ensure_mlserver
ensure_models
ensure_browser
ensure_client_generators
# The S3 server is one of the binaries just built: started from that build. The same
# targets too, not `--bins` alone: without the test targets cargo leaves the dev-dependencies'
# features out, and that other feature set rebuilds the kernel and whatever else they touch.
ensure_s3 debug "${TEST_BUILD[@]}" --bins --tests "$@"
# The fuzz targets' build (cargo-fuzz's install, then the targets without optimization: about
# 5 minutes of CPU) at the lowest priority while the tests run: the end-to-end tests spend
# most of their time waiting on their systems, which leaves one core or both idle for most of
# the serial pass. Beside the test build it took as long as the build left idle (20 minutes,
# and the build about 3 minutes longer). The fuzz step at the end waits for it (the fuzz lock).
FUZZ_BUILD_LOG="$LOCAL/fuzz-build.log"
nice -n 19 bash "$ROOT/scripts/fuzz.sh" --dev --build-only 0 "${CI_FUZZ_TARGETS[@]}" >"$FUZZ_BUILD_LOG" 2>&1 &
# Every crate's tests, in parallel, but the end-to-end tests that cut dependencies or kill
# services (the module `serial`, matched by name)... Four at a time, not one per core: an
# end-to-end test spends most of its time waiting on its system (processing delays, polls,
# retries), so two cores keep four busy. TEST_THREADS overrides it.
log "cargo test ${TEST_BUILD[*]} -- --skip serial:: --test-threads=${TEST_THREADS:-4}"
cargo test "${TEST_BUILD[@]}" "$@" -- --skip serial:: --test-threads="${TEST_THREADS:-4}"
# ...which run after, apart and one at a time.
log "cargo test ${TEST_BUILD[*]} --test e2e -- serial:: --test-threads=1"
cargo test "${TEST_BUILD[@]}" --test e2e "$@" -- serial:: --test-threads=1
# A short run of each fuzz target that reads untrusted bytes (the upload form, image headers,
# steps, messages and dead letters), built without optimization (in the background above; a
# failed build is built again here, its errors shown). Seeds first: every crash ever found
# is replayed.
log "scripts/fuzz.sh --dev ${FUZZ_SECONDS:-10} ${CI_FUZZ_TARGETS[*]}"
bash "$ROOT/scripts/fuzz.sh" --dev "${FUZZ_SECONDS:-10}" "${CI_FUZZ_TARGETS[@]}"
