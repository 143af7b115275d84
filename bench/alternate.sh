#!/usr/bin/env bash
# Measure builds of ingest side by side: `bench/load.sh ingest` for each build in turn, round
# after round, so every build meets the same machine (the spread between sets of runs is larger
# than most changes). Not part of the tests.
#
#   bench/alternate.sh ROUNDS DIR VARIANT...
#
# DIR holds one binary per variant, named `imagepipe-ingest-VARIANT` (the bench system stops
# only processes whose name starts with `imagepipe-`): copy `target/release/imagepipe-ingest`
# there after building each version. RUNS_EACH (2) runs per variant and round; every other
# variable passes through to bench/load.sh (BENCH_S3_CPUS, BENCH_DB_PARAMS, N, C, ...).
# Each variant's JSON lines go to .local/bench/alternate/VARIANT.jsonl, and a summary to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${1:?ROUNDS}
dir=$(cd "${2:?DIR}" && pwd)
shift 2
[ $# -gt 0 ] || { echo "usage: bench/alternate.sh ROUNDS DIR VARIANT..." >&2; exit 2; }
out=.local/bench/alternate
mkdir -p "$out"
for variant in "$@"; do
  [ -x "$dir/imagepipe-ingest-$variant" ] || { echo "no $dir/imagepipe-ingest-$variant" >&2; exit 2; }
  : >"$out/$variant.jsonl"
done
for ((round = 1; round <= rounds; round++)); do
  for variant in "$@"; do
    echo "round $round/$rounds: $variant" >&2
    BENCH_VARIANT=$variant INGEST_BIN="$dir/imagepipe-ingest-$variant" \
      bench/load.sh ingest "${RUNS_EACH:-2}" >/dev/null
    cat ".local/bench/load/ingest-$variant.jsonl" >>"$out/$variant.jsonl"
  done
done
for variant in "$@"; do
  target/release/load summarize "$out/$variant.jsonl"
done
