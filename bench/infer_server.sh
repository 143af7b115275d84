#!/usr/bin/env bash
# `infer` on a model server: the processor's own client against a plain Python client, both
# sending the same request (one image's input, made by the processor's preprocessing) to the
# same MLServer 1.7.1 (the tests' harness and onnxruntime runtime) at the processor's default
# concurrency, in the same run, rounds alternating the sides. Not part of the tests.
#
#   bench/infer_server.sh [REQUESTS] [ROUNDS]
#
# Environment: CONCURRENCY (8, the default PROCESSOR_CONCURRENCY), CARGO_TARGET_DIR.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
REQUESTS="${1:-400}"
ROUNDS="${2:-3}"
CONCURRENCY="${CONCURRENCY:-8}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="$ROOT/.local/bench/infer"
source "$ROOT/scripts/lib.sh"
ensure_python_tools
ensure_mlserver

log "cargo build --release -p imagepipe-bench --bin infer_server"
CARGO_TARGET_DIR="$TARGET" cargo build --quiet --release -p imagepipe-bench --bin infer_server
rm -rf "$OUT" && mkdir -p "$OUT"
log "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$TARGET/release/infer_server" --models "$OUT" --image "$OUT/red.png" \
  --requests "$REQUESTS" --concurrency "$CONCURRENCY" --rounds "$ROUNDS" \
  --python "$IMAGEPIPE_TEST_PYTHON" --reference "$ROOT/bench/infer_reference.py" \
  >"$OUT/results.jsonl"
"$IMAGEPIPE_TEST_PYTHON" - "$OUT/results.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
print("| client | images/s | p50 ms | p99 ms | requests in flight (most) |")
print("|---|---|---|---|---|")
for side in ("imagepipe", "python"):
    results = [r["result"] for r in rows if r["side"] == side]
    med = lambda key: statistics.median(r[key] for r in results)
    print(f"| {side} | {med('images_per_s'):.0f} | {med('p50_ms'):.2f} | {med('p99_ms'):.2f} | "
          f"{max(r['max_in_flight'] for r in results)} |")
PY
