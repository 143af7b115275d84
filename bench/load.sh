#!/usr/bin/env bash
# Load benchmarks against the whole system, over HTTP, as a client sees it. Not part of the
# tests. Each run starts the system afresh (bench/system.sh: release build, its own database,
# queue prefix, buckets and ports), runs `load` (bench/src/bin/load) against it and stops it.
#
#   bench/load.sh ingest  [RUNS]   N uploads of photo-2mp.jpg at concurrency C while the
#                                  processor is busy, and in the same run N raw PUTs of the same
#                                  bytes at the same concurrency with ingest's storage client:
#                                  accepted/s, latency, ratio, CPU per upload (default 5 runs)
#   bench/load.sh e2e     [RUNS]   bursts of 50 and 500 at PROCESSING_DELAY_MS 5000 and 0:
#                                  time until all COMPLETED; per-task overhead from bursts of
#                                  the processor's in-flight capacity (default 3 runs; the
#                                  500 at 5000 ms, minutes long by construction, LONG_RUNS=1)
#   bench/load.sh memory  [RUNS]   ingest peak RSS with 50 concurrent uploads of a 20 MB and a
#                                  40 MB file; processor peak RSS on photo-12mp.jpg at full
#                                  concurrency (default 3 runs)
#   bench/load.sh latency [RUNS]   GET /api/v1/tasks/{id} p99 idle against 500 queued, at
#                                  PROCESSING_DELAY_MS 5000 and 0 (default 3 runs)
#   bench/load.sh all     [RUNS]   all four
#
# Environment:
#   ingest   N (uploads, 500), C (concurrency, 50), PROFILE=1 (perf record ingest's last run)
#   e2e      BURSTS ("50 500"), DELAYS ("5000 0"), OVERHEAD_ROUNDS (5), SINGLE_ROUNDS (10),
#            LONG_RUNS (1: runs that include the burst of 500 at 5000 ms)
#   latency  GETS (3000 per phase), GET_CONCURRENCY (1), LATENCY_DELAYS ("5000 0")
#   all      BENCH_STEPS (JSON: the chain every upload asks for, the form's `steps`; default chain unset)
#   system   BENCH_S3_CPUS (the S3 server alone on these CPUs), PROCESSOR_CONCURRENCY (8), PROCESSOR_BIN and BENCH_VARIANT (a patched processor,
#            summarized apart), and every other variable of the services (bench/system.sh)
# The JSON lines of every run go to .local/bench/load/BENCH-VARIANT.jsonl, the tables of
# medians to stdout and to BENCH-VARIANT.md beside them.
set -euo pipefail
source "$(dirname "$0")/system.sh"
cd "$ROOT"

BENCH=${1:-}
RUNS=${2:-}
OUT="$LOCAL/bench/load"
IMAGES="$(cd "$ROOT/../shared/testdata/good" && pwd)"
LOAD="$ROOT/target/release/load"
VARIANT=${BENCH_VARIANT:-head}
mkdir -p "$OUT"

trap 'system_stop >/dev/null 2>&1 || true' EXIT INT TERM

# Start the system with the given variables (VAR=value ...), quietly, without rebuilding.
start() { env "$@" BENCH_BUILD=0 bash -c 'source bench/system.sh && system_start'; }
stop() { system_stop >/dev/null 2>&1 || true; }

machine() {
  log "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- services shared || echo ' + uncommitted changes in services/ or shared/');" \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
}

# Run `load` with the system's variables (it reads the same names as the services).
run_load() { # VAR=value... -- load arguments...
  local vars=()
  while [ "$1" != "--" ]; do vars+=("$1"); shift; done
  shift
  local pin=()
  [ -n "${BENCH_S3_CPUS:-}" ] && pin=(taskset -c "$(bench_other_cpus)")
  env "${vars[@]}" bash -c 'source bench/system.sh && bench_env && exec "$@"' _ "${pin[@]}" "$LOAD" "$@"
}

bench_ingest() {
  local runs=${RUNS:-5} n=${N:-500} c=${C:-50} run order
  : >"$OUT/ingest-$VARIANT.jsonl"
  for ((run = 1; run <= runs; run++)); do
    order=""
    ((run % 2 == 0)) && order="--put-first"
    log "ingest run $run/$runs: $n uploads of photo-2mp.jpg at concurrency $c ${order:+(raw PUTs first)}"
    start PROCESSING_DELAY_MS="${PROCESSING_DELAY_MS:-5000}"
    local perf_pid=""
    if [ "${PROFILE:-0}" = 1 ] && ((run == runs)); then
      # The last run under perf: where ingest's CPU goes (cpu-clock samples; this VM has no
      # hardware counters).
      perf record -q -e cpu-clock -F 1999 -g -p "$(cat "$BENCH_STATE/ingest.pid")" \
        -o "$OUT/ingest-$VARIANT.perf.data" 2>/dev/null &
      perf_pid=$!
    fi
    run_load BENCH_RUN=$run -- ingest --file "$IMAGES/photo-2mp.jpg" --uploads "$n" \
      --concurrency "$c" $order >>"$OUT/ingest-$VARIANT.jsonl"
    if [ -n "$perf_pid" ]; then
      kill -INT "$perf_pid" && wait "$perf_pid" || true
      perf report -i "$OUT/ingest-$VARIANT.perf.data" --no-children --sort dso,sym -g none \
        --stdio >"$OUT/ingest-$VARIANT.perf.txt" 2>/dev/null || true
      log "profile of ingest: $OUT/ingest-$VARIANT.perf.txt"
    fi
    stop
  done
  "$LOAD" summarize "$OUT/ingest-$VARIANT.jsonl" | tee "$OUT/ingest-$VARIANT.md"
}

bench_e2e() {
  local runs=${RUNS:-3} run delay burst capacity=${PROCESSOR_CONCURRENCY:-8}
  : >"$OUT/e2e-$VARIANT.jsonl"
  for delay in ${DELAYS:-5000 0}; do
    log "e2e: PROCESSING_DELAY_MS=$delay, PROCESSOR_CONCURRENCY=$capacity"
    start PROCESSING_DELAY_MS="$delay"
    for ((run = 1; run <= runs; run++)); do
      for burst in ${BURSTS:-50 500}; do
        if ((burst > 50 && delay > 0 && run > ${LONG_RUNS:-1})); then continue; fi
        log "e2e run $run/$runs: burst of $burst, delay $delay ms"
        run_load BENCH_RUN=$run PROCESSING_DELAY_MS="$delay" -- e2e \
          --file "$IMAGES/photo-2mp.jpg" --burst "$burst" >>"$OUT/e2e-$VARIANT.jsonl"
      done
      # Overhead: bursts of the in-flight capacity, each sent when the last is COMPLETED, so
      # no job waits for a prefetch slot; and single uploads, where nothing waits at all (not
      # even for a core: the processor runs one kernel per core).
      log "e2e run $run/$runs: overhead, ${OVERHEAD_ROUNDS:-5} bursts of $capacity (the in-flight capacity)"
      run_load BENCH_RUN=$run PROCESSING_DELAY_MS="$delay" -- e2e \
        --file "$IMAGES/photo-2mp.jpg" --burst "$capacity" --rounds "${OVERHEAD_ROUNDS:-5}" \
        --label "overhead-burst$capacity-delay$delay" >>"$OUT/e2e-$VARIANT.jsonl"
      log "e2e run $run/$runs: overhead, ${SINGLE_ROUNDS:-10} single uploads"
      run_load BENCH_RUN=$run PROCESSING_DELAY_MS="$delay" -- e2e \
        --file "$IMAGES/photo-2mp.jpg" --burst 1 --rounds "${SINGLE_ROUNDS:-10}" \
        --label "overhead-burst1-delay$delay" >>"$OUT/e2e-$VARIANT.jsonl"
    done
    stop
  done
  "$LOAD" summarize "$OUT/e2e-$VARIANT.jsonl" | tee "$OUT/e2e-$VARIANT.md"
}

bench_memory() {
  local runs=${RUNS:-3} run mb
  : >"$OUT/memory-$VARIANT.jsonl"
  mkdir -p "$OUT/files"
  # Just under 20 MB and 40 MB (decimal), random pixels; never committed (.local is ignored).
  [ -f "$OUT/files/noise-20MB.png" ] || "$LOAD" make-png --bytes 20000000 --out "$OUT/files/noise-20MB.png"
  [ -f "$OUT/files/noise-40MB.png" ] || "$LOAD" make-png --bytes 40000000 --out "$OUT/files/noise-40MB.png"
  for ((run = 1; run <= runs; run++)); do
    for mb in 20 40; do
      log "memory run $run/$runs: ingest, 50 concurrent uploads of $mb MB"
      # The 40 MB file needs a larger limit than the default 20 MiB.
      start MAX_UPLOAD_BYTES=$((mb == 20 ? 20971520 : 41943040))
      run_load BENCH_RUN=$run -- memory-ingest --file "$OUT/files/noise-${mb}MB.png" \
        --uploads 50 --concurrency 50 --label "ingest-${mb}MB-x50" >>"$OUT/memory-$VARIANT.jsonl"
      stop
    done
    log "memory run $run/$runs: processor on photo-12mp.jpg at full concurrency"
    start PROCESSING_DELAY_MS=2000
    run_load BENCH_RUN=$run PROCESSING_DELAY_MS=2000 -- memory-processor \
      --file "$IMAGES/photo-12mp.jpg" >>"$OUT/memory-$VARIANT.jsonl"
    stop
  done
  "$LOAD" summarize "$OUT/memory-$VARIANT.jsonl" | tee "$OUT/memory-$VARIANT.md"
}

bench_latency() {
  local runs=${RUNS:-3} run delay
  : >"$OUT/latency-$VARIANT.jsonl"
  for ((run = 1; run <= runs; run++)); do
    # 5000 ms: the queue waits on the processor's timers; 0: the processor works through the
    # queue flat out, on the same two cores as ingest.
    for delay in ${LATENCY_DELAYS:-5000 0}; do
      log "latency run $run/$runs: GET idle, then with 500 queued (delay $delay ms)"
      start PROCESSING_DELAY_MS="$delay"
      run_load BENCH_RUN=$run PROCESSING_DELAY_MS="$delay" -- latency \
        --file "$IMAGES/photo-2mp.jpg" --gets "${GETS:-3000}" \
        --get-concurrency "${GET_CONCURRENCY:-1}" --burst 500 >>"$OUT/latency-$VARIANT.jsonl"
      stop
    done
  done
  "$LOAD" summarize "$OUT/latency-$VARIANT.jsonl" | tee "$OUT/latency-$VARIANT.md"
}

case "$BENCH" in
  ingest | e2e | memory | latency) ;;
  all) ;;
  *)
    echo "usage: bench/load.sh ingest|e2e|memory|latency|all [RUNS]" >&2
    exit 2
    ;;
esac
ensure_postgres
ensure_rabbitmq
bench_build
machine
case "$BENCH" in
  all) for b in ingest latency memory e2e; do "bench_$b"; done ;;
  *) "bench_$BENCH" ;;
esac
machine
