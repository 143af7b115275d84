#!/usr/bin/env bash
# Fuzz the code that reads untrusted bytes (fuzz/fuzz_targets: header inspection, the steps
# parser and chain check, the message decoders, the JPEG shrink-on-load decode) with cargo
# fuzz (libFuzzer), each target for SECONDS (default 20), seeds first: fuzz/seeds/TARGET
# holds the seed inputs and every crash ever found, so each run replays them as regression
# tests. A crash fails the run and leaves its input in fuzz/artifacts/TARGET/.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# --sanitizer none: the address sanitizer needs a nightly compiler, and only stable 1.95 is
# here; libFuzzer's coverage guidance and Rust's own checks (bounds, overflow, debug
# assertions: the fuzz profile turns them on) still hold. The corpus grows in .local/fuzz.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

SECONDS_PER_TARGET="${1:-20}"
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  TARGETS=(header steps messages jpeg_scaled)
fi
CARGO_FUZZ_VERSION=0.13.2

ensure_build_tools
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  log "installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install --quiet --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi

log "building the fuzz targets (${TARGETS[*]})"
cargo fuzz build --sanitizer none --fuzz-dir fuzz
for target in "${TARGETS[@]}"; do
  corpus="$LOCAL/fuzz/corpus/$target"
  mkdir -p "$corpus"
  log "fuzzing $target for ${SECONDS_PER_TARGET}s (seeds: fuzz/seeds/$target)"
  cargo fuzz run --sanitizer none --fuzz-dir fuzz "$target" "$corpus" "fuzz/seeds/$target" -- \
    -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -rss_limit_mb=2048 \
    -print_final_stats=1 2>&1 | tail -n 12
done
