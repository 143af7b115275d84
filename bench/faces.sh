#!/usr/bin/env bash
# Face detector benchmark: imagepipe's in-process BlazeFace (ONNX Runtime through the `ort`
# crate) against onnxruntime's own Python build on the same model file, both on one thread
# pinned to one core, in the same run. Not part of the tests.
#
#   bench/faces.sh [RUNS] [ROUNDS]
#
# Per image of ../shared/testdata/good (or IMAGES): the model alone on both sides; and ours
# only: the detection stage of `detect_faces` (fit, infer, decode, suppress, map back) and the
# whole task's kernel (decode, detect, encode). Rounds (default 3) alternate the sides; the
# table shows medians of medians. Uses the test venv (.local/venv-openapi, which has the
# pinned onnxruntime of tests/reference/requirements.txt) and the models of ensure_models.
# Environment: CPU (default 0), IMAGES, CARGO_TARGET_DIR.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
RUNS="${1:-51}"
ROUNDS="${2:-3}"
CPU="${CPU:-0}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
IMAGES="$(cd "${IMAGES:-$ROOT/../shared/testdata/good}" && pwd)"
OUT="$ROOT/.local/bench/faces"
source "$ROOT/scripts/lib.sh"
ensure_python_tools
ensure_models

log "cargo build --release -p imagepipe-bench --bin faces"
CARGO_TARGET_DIR="$TARGET" cargo build --quiet --release -p imagepipe-bench --bin faces
rm -rf "$OUT" && mkdir -p "$OUT"
FILES=("$IMAGES"/astronaut.png "$IMAGES"/camera.png "$IMAGES"/chelsea.png "$IMAGES"/rocket.jpg \
    "$IMAGES"/photo-2mp.jpg "$IMAGES"/photo-12mp.jpg)
export OMP_NUM_THREADS=1
log "load before: $(cut -d' ' -f1-3 /proc/loadavg); pinned to CPU $CPU"
for ((round = 1; round <= ROUNDS; round++)); do
    log "round $round/$ROUNDS: imagepipe"
    taskset -c "$CPU" "$TARGET/release/faces" --runs "$RUNS" --models "$LOCAL/models" "${FILES[@]}" \
        >"$OUT/imagepipe-$round.jsonl"
    log "round $round/$ROUNDS: onnxruntime (Python)"
    taskset -c "$CPU" "$IMAGEPIPE_TEST_PYTHON" "$ROOT/bench/faces_reference.py" --runs "$RUNS" \
        --model "$LOCAL/models/blazeface-front-128.onnx" "${FILES[@]}" >"$OUT/onnxruntime-$round.jsonl"
done
"$IMAGEPIPE_TEST_PYTHON" - "$OUT" "$ROUNDS" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def load(side):
    rows = {}
    for r in range(1, rounds + 1):
        for line in open(f"{out}/{side}-{r}.jsonl"):
            row = json.loads(line)
            rows.setdefault(row["file"], []).append(row)
    return rows
ours, theirs = load("imagepipe"), load("onnxruntime")
med = lambda rows, key: statistics.median(r[key]["median"] for r in rows)
print("| image | size | faces | model: imagepipe ms | model: onnxruntime ms | onnxruntime ÷ imagepipe | detection stage ms | whole task kernel ms |")
print("|---|---|---|---|---|---|---|---|")
for name, rows in ours.items():
    a, b = med(rows, "infer_ms"), med(theirs[name], "infer_ms")
    print(f"| {name} | {rows[0]['width']}x{rows[0]['height']} | {rows[0]['faces']} | {a:.2f} | {b:.2f} | "
          f"{b / a:.2f} | {med(rows, 'detect_ms'):.2f} | {med(rows, 'task_ms'):.1f} |")
PY
