#!/usr/bin/env bash
# Kernel benchmark: imagepipe's pixel kernel against OpenCV and libvips doing the same job,
# each on one thread pinned to one core, on the files of ../shared/testdata/good. Not part of
# the tests.
#
#   bench/kernel.sh [RUNS] [ROUNDS]
#
# Two parts, each round timing every side RUNS times per file and job (default 11); the
# rounds (default 3) alternate the sides so that a change in the machine's load hits all:
# 1. the default chain (decode, grayscale, encode) on every file, against OpenCV
#    (bench/opencv_kernel.py);
# 2. one chain per op (resize, crop, rotate, flip, grayscale, blur, sharpen, each then JPEG
#    quality 90) and the shipped presets (thumbnail, web) on every JPEG, against libvips and
#    OpenCV doing the same job (bench/reference_kernel.py says how each does it).
# The tables show medians. Installs bench/requirements.txt (OpenCV, pyvips with libvips's
# binary wheel; pinned) into .local/venv (gitignored) on first use and when it changes.
# Environment: CPU (the core to pin to, default 0), JPEG_QUALITY (part 1; default 90, as the
# comparison asks; the product uses 95), PARTS ("1 2" by default; "2" for the chains alone),
# IMAGES (a folder of images, default ../shared/testdata/good: rerun the key rows on a few),
# CARGO_TARGET_DIR (default target/).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
RUNS="${1:-11}"
ROUNDS="${2:-3}"
CPU="${CPU:-0}"
QUALITY="${JPEG_QUALITY:-90}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
IMAGES="$(cd "${IMAGES:-$ROOT/../shared/testdata/good}" && pwd)"
OUT="$ROOT/.local/bench/kernel"
VENV="$ROOT/.local/venv"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

PARTS="${PARTS:-1 2}"
REQUIREMENTS="$ROOT/bench/requirements.txt"

if [ ! -x "$VENV/bin/python" ] || ! cmp -s "$REQUIREMENTS" "$VENV/bench-requirements.txt"; then
    log "installing bench/requirements.txt into $VENV"
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet -r "$REQUIREMENTS"
    cp "$REQUIREMENTS" "$VENV/bench-requirements.txt"
fi

log "cargo build --release -p imagepipe-bench --bin kernel"
CARGO_TARGET_DIR="$TARGET" cargo build --quiet --release -p imagepipe-bench --bin kernel

rm -rf "$OUT" && mkdir -p "$OUT/luma" "$OUT/results" "$OUT/chains"
# One thread each, on one core: OpenCV's own pool off, BLAS/OpenMP pools at one thread,
# libvips's pool at one thread (its operation cache is turned off in the script).
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OPENCV_FOR_THREADS_NUM=1 VIPS_CONCURRENCY=1
log "load before: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min); pinned to CPU $CPU"
part() { [[ " $PARTS " == *" $1 "* ]]; }
for ((round = 1; round <= ROUNDS; round++)); do
    part 1 || continue
    log "round $round/$ROUNDS: imagepipe, JPEG quality $QUALITY, $RUNS runs per file"
    taskset -c "$CPU" "$TARGET/release/kernel" --runs "$RUNS" --jpeg-quality "$QUALITY" \
        --luma-dir "$OUT/luma" --out-dir "$OUT/results" "$IMAGES" >"$OUT/imagepipe-$round.jsonl"
    log "round $round/$ROUNDS: OpenCV, same files, same job"
    taskset -c "$CPU" "$VENV/bin/python" "$ROOT/bench/opencv_kernel.py" measure \
        "$OUT/imagepipe-$round.jsonl" --dir "$IMAGES" --luma-dir "$OUT/luma" \
        --out-dir "$OUT/results" --runs "$RUNS" >"$OUT/opencv-$round.jsonl"
done
for ((round = 1; round <= ROUNDS; round++)); do
    part 2 || continue
    log "round $round/$ROUNDS: op and preset chains: imagepipe, $RUNS runs per JPEG and chain"
    taskset -c "$CPU" "$TARGET/release/kernel" --chains --runs "$RUNS" --out-dir "$OUT/chains" \
        "$IMAGES" >"$OUT/chains-imagepipe-$round.jsonl"
    for tool in vips opencv; do
        log "round $round/$ROUNDS: op and preset chains: $tool, same files, same jobs"
        taskset -c "$CPU" "$VENV/bin/python" "$ROOT/bench/reference_kernel.py" measure \
            "$OUT/chains-imagepipe-$round.jsonl" --tool "$tool" --dir "$IMAGES" \
            --out-dir "$OUT/chains" --runs "$RUNS" >"$OUT/chains-$tool-$round.jsonl"
    done
done
log "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
if part 1; then "$VENV/bin/python" "$ROOT/bench/opencv_kernel.py" report "$OUT"; fi
if part 2; then echo; "$VENV/bin/python" "$ROOT/bench/reference_kernel.py" report "$OUT"; fi
