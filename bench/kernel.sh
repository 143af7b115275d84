#!/usr/bin/env bash
# Kernel benchmark: imagepipe's pixel kernel against OpenCV doing the same job, both on one
# thread pinned to one core, on every file of ../shared/testdata/good. Not part of the tests.
#
#   bench/kernel.sh [RUNS]        # RUNS timed runs per file and measure (default 11), medians
#
# Installs opencv-python-headless into .local/venv (gitignored) on first use. Environment:
# CPU (the core to pin to, default 0), JPEG_QUALITY (default 90, as the comparison asks),
# CARGO_TARGET_DIR (default target/).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
RUNS="${1:-11}"
CPU="${CPU:-0}"
QUALITY="${JPEG_QUALITY:-90}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
IMAGES="$(cd "$ROOT/../shared/testdata/good" && pwd)"
OUT="$ROOT/.local/bench"
VENV="$ROOT/.local/venv"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import cv2, numpy' 2>/dev/null; then
    log "installing opencv-python-headless into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade opencv-python-headless numpy
fi

log "cargo build --release -p imagepipe-bench --bin kernel"
CARGO_TARGET_DIR="$TARGET" cargo build --quiet --release -p imagepipe-bench --bin kernel

rm -rf "$OUT" && mkdir -p "$OUT/luma"
# One thread each, on one core: OpenCV's own pool off, BLAS/OpenMP pools at one thread.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OPENCV_FOR_THREADS_NUM=1
log "imagepipe kernel, JPEG quality $QUALITY, $RUNS runs per file, pinned to CPU $CPU"
taskset -c "$CPU" "$TARGET/release/kernel" --runs "$RUNS" --jpeg-quality "$QUALITY" \
    --luma-dir "$OUT/luma" "$IMAGES" >"$OUT/imagepipe.jsonl"
log "OpenCV, same files, same job, pinned to CPU $CPU"
taskset -c "$CPU" "$VENV/bin/python" "$ROOT/bench/opencv_kernel.py" "$OUT/imagepipe.jsonl" \
    --dir "$IMAGES" --luma-dir "$OUT/luma" --runs "$RUNS"
