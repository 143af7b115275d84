#!/usr/bin/env bash
# Fuzz the code that reads untrusted bytes with cargo fuzz (libFuzzer), each target for
# SECONDS (default 20), seeds first: fuzz/seeds/TARGET holds the seed inputs and every crash
# ever found, so each run replays them as regression tests. A crash fails the run and leaves
# its input in fuzz/artifacts/TARGET/.
#
#   scripts/fuzz.sh [--dev] [--build-only] [SECONDS] [TARGET...]
#
# Targets (fuzz/fuzz_targets): header, steps, messages, upload_form (imagepipe-wire alone)
# and jpeg_scaled (the processor's JPEG decode; it builds the kernel, `--features kernel`).
# Default: all five. With the kernel's target among them every target is built with the
# kernel, so name the others alone to build without it (as CI does). --dev builds without optimization (CI's short run: about a third of the
# release build's CPU, at a few percent of its executions per second); the figures in
# docs/fuzzing.md are of release builds. --build-only builds and stops (.ci/run builds
# ahead in the background). The corpus grows in .local/fuzz.
#
# --sanitizer none: the address sanitizer needs a nightly compiler, and only stable 1.95 is
# here; libFuzzer's coverage guidance and Rust's own checks (bounds, overflow, debug
# assertions: the fuzz profiles turn them on) still hold.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

# cargo fuzz's default: optimized, with debug assertions and overflow checks (an explicit
# --release would turn them off).
MODE=()
BUILD_ONLY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dev) MODE=(--dev) ;;
    --build-only) BUILD_ONLY=1 ;;
    *) break ;;
  esac
  shift
done
SECONDS_PER_TARGET="${1:-20}"
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  TARGETS=(header steps messages upload_form jpeg_scaled)
fi
FEATURES=()
for target in "${TARGETS[@]}"; do
  [ "$target" = jpeg_scaled ] && FEATURES=(--features kernel)
done
FUZZ=(--sanitizer none --fuzz-dir fuzz "${MODE[@]}" "${FEATURES[@]}")

# The fuzz crate is a workspace of its own, built the same way whoever runs this (CI's test
# command has clippy-driver as the main workspace's wrapper; here it would only rebuild).
unset RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
hold_fuzz_lock
ensure_build_tools
ensure_cargo_fuzz
log "building the fuzz targets (${MODE[*]:-release} ${FEATURES[*]})"
cargo fuzz build "${FUZZ[@]}"
[ "$BUILD_ONLY" -eq 1 ] && exit 0

for target in "${TARGETS[@]}"; do
  corpus="$LOCAL/fuzz/corpus/$target"
  mkdir -p "$corpus"
  log "fuzzing $target for ${SECONDS_PER_TARGET}s (seeds: fuzz/seeds/$target)"
  output=$(mktemp)
  if ! cargo fuzz run "${FUZZ[@]}" "$target" "$corpus" "fuzz/seeds/$target" -- \
    -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -rss_limit_mb=2048 \
    -print_final_stats=1 >"$output" 2>&1; then
    tail -n 60 "$output"
    log "FAILED: fuzz target $target found a crash (its input is in fuzz/artifacts/$target/; add it to fuzz/seeds/$target/ with the fix)"
    rm -f "$output"
    exit 1
  fi
  grep -E '^#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::average_exec_per_sec' "$output" || tail -n 5 "$output"
  rm -f "$output"
done
