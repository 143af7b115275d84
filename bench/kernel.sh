#!/usr/bin/env bash
# Kernel benchmark: imagepipe's pixel kernel against OpenCV doing the same job, both on one
# thread pinned to one core, on every file of ../shared/testdata/good. Not part of the tests.
#
#   bench/kernel.sh [RUNS] [ROUNDS]
#
# Each round times imagepipe, then OpenCV, RUNS times per file and measure (default 11); the
# rounds (default 3) alternate the two so that a change in the machine's load hits both.
# The table shows medians. Installs opencv-python-headless into .local/venv (gitignored) on
# first use. Environment: CPU (the core to pin to, default 0), JPEG_QUALITY (default 90, as
# the comparison asks; the product uses 95), CARGO_TARGET_DIR (default target/).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
RUNS="${1:-11}"
ROUNDS="${2:-3}"
CPU="${CPU:-0}"
QUALITY="${JPEG_QUALITY:-90}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
IMAGES="$(cd "$ROOT/../shared/testdata/good" && pwd)"
OUT="$ROOT/.local/bench/kernel"
VENV="$ROOT/.local/venv"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import cv2, numpy' 2>/dev/null; then
    log "installing opencv-python-headless into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade opencv-python-headless numpy
fi

log "cargo build --release -p imagepipe-bench --bin kernel"
CARGO_TARGET_DIR="$TARGET" cargo build --quiet --release -p imagepipe-bench --bin kernel

rm -rf "$OUT" && mkdir -p "$OUT/luma" "$OUT/results"
# One thread each, on one core: OpenCV's own pool off, BLAS/OpenMP pools at one thread.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OPENCV_FOR_THREADS_NUM=1
log "load before: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min); pinned to CPU $CPU"
for ((round = 1; round <= ROUNDS; round++)); do
    log "round $round/$ROUNDS: imagepipe, JPEG quality $QUALITY, $RUNS runs per file"
    taskset -c "$CPU" "$TARGET/release/kernel" --runs "$RUNS" --jpeg-quality "$QUALITY" \
        --luma-dir "$OUT/luma" --out-dir "$OUT/results" "$IMAGES" >"$OUT/imagepipe-$round.jsonl"
    log "round $round/$ROUNDS: OpenCV, same files, same job"
    taskset -c "$CPU" "$VENV/bin/python" "$ROOT/bench/opencv_kernel.py" measure \
        "$OUT/imagepipe-$round.jsonl" --dir "$IMAGES" --luma-dir "$OUT/luma" \
        --out-dir "$OUT/results" --runs "$RUNS" >"$OUT/opencv-$round.jsonl"
done
log "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
"$VENV/bin/python" "$ROOT/bench/opencv_kernel.py" report "$OUT"
