//! The benchmarks. Each prints one JSON object on stdout; progress goes to stderr.

use std::{
    collections::BTreeMap,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::Context;
use bytes::Bytes;
use image::{
    ExtendedColorType, ImageEncoder,
    codecs::png::{CompressionType, FilterType, PngEncoder},
};
use imagepipe_shared::storage::Storage;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    Target,
    client::{Api, Db, Sample, closed_loop, kernel_totals, metric, stage_totals},
    procfs::{self, Services, loadavg, mib, snapshot, status_kib, ticks_to_ms},
    stats::{median, round, summary},
};

struct Upload {
    bytes: Bytes,
    name: String,
    mime: &'static str,
}

impl Upload {
    fn read(path: &Path) -> anyhow::Result<Self> {
        let bytes = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("upload")
            .to_owned();
        let mime = match path.extension().and_then(|e| e.to_str()) {
            Some("png") => "image/png",
            _ => "image/jpeg",
        };
        Ok(Self {
            bytes: Bytes::from(bytes),
            name,
            mime,
        })
    }
}

/// `n` uploads of the same file through `concurrency` clients.
async fn upload_many(api: &Api, file: &Upload, n: usize, concurrency: usize) -> (Vec<Sample>, f64) {
    let (api, bytes, name, mime) = (
        api.clone(),
        file.bytes.clone(),
        file.name.clone(),
        file.mime,
    );
    let (samples, wall) = closed_loop(n, concurrency, move |_| {
        let (api, bytes, name) = (api.clone(), bytes.clone(), name.clone());
        async move { api.upload(&name, bytes, mime).await }
    })
    .await;
    (samples, wall.as_secs_f64())
}

/// Accepted count, refusals by status, accepted ids, latency of every request.
fn tally(samples: &[Sample]) -> (usize, BTreeMap<String, usize>, Vec<Uuid>, Vec<f64>) {
    let mut refused = BTreeMap::new();
    let mut ids = Vec::new();
    for s in samples {
        match s.task_id {
            Some(id) if s.status == 202 => ids.push(id),
            _ => *refused.entry(s.status.to_string()).or_insert(0) += 1,
        }
    }
    let ms = samples.iter().map(|s| s.ms).collect();
    (ids.len(), refused, ids, ms)
}

fn epoch_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn emit(value: &Value) {
    println!("{value}");
}

/// Benchmark 2: ingest under load against the object store's own PUT rate.
pub async fn ingest(
    target: &Target,
    file: &Path,
    uploads: usize,
    concurrency: usize,
    warmup: usize,
    put_first: bool,
) -> anyhow::Result<()> {
    let upload = Upload::read(file)?;
    let api = Api::new(&target.ingest_url)?;
    let services = Services::read(&target.state)?;
    let db = Db::connect(&target.database.database_url).await?;
    // The same client, settings and signing as ingest's: built from the same variables.
    let storage = Storage::connect(&target.storage).await?;
    let load_before = loadavg();

    eprintln!("warm-up: {warmup} uploads and {warmup} PUTs");
    let (warm, _) = upload_many(&api, &upload, warmup, concurrency).await;
    let (warm_accepted, warm_refused, _, _) = tally(&warm);
    anyhow::ensure!(
        warm_accepted == warmup,
        "warm-up uploads refused: {warm_refused:?}"
    );
    put_many(&storage, &upload.bytes, warmup, concurrency).await;
    db.wait_outbox_empty(Duration::from_secs(60)).await?;

    let mut ingest_out = Value::Null;
    let mut put_out = Value::Null;
    let phases: [bool; 2] = if put_first {
        [true, false]
    } else {
        [false, true]
    };
    for is_put in phases {
        if is_put {
            eprintln!("raw PUT: {uploads} at concurrency {concurrency}");
            let before = snapshot(services, &db.name);
            let (ok, failed, ms, wall) =
                put_many(&storage, &upload.bytes, uploads, concurrency).await;
            let after = snapshot(services, &db.name);
            let s3 = after.ticks("s3_server") - before.ticks("s3_server");
            let client = after.ticks("client") - before.ticks("client");
            put_out = json!({
                "ok": ok,
                "failed": failed,
                "wall_s": round(wall),
                "per_s": round(ok as f64 / wall),
                "latency": summary(&ms),
                "s3_server_cpu_ms_per_put": round(ticks_to_ms(s3) / ok.max(1) as f64),
                "client_cpu_ms_per_put": round(ticks_to_ms(client) / ok.max(1) as f64),
                "cpu": before.until(&after),
            });
        } else {
            eprintln!("ingest: {uploads} uploads at concurrency {concurrency}");
            let before = snapshot(services, &db.name);
            let (samples, wall) = upload_many(&api, &upload, uploads, concurrency).await;
            // The relay's publishing of these jobs is part of accepting them.
            db.wait_outbox_empty(Duration::from_secs(120)).await?;
            let after = snapshot(services, &db.name);
            let (accepted, refused, _, ms) = tally(&samples);
            let per = |group: &str| {
                round(
                    ticks_to_ms(after.ticks(group) - before.ticks(group)) / accepted.max(1) as f64,
                )
            };
            ingest_out = json!({
                "accepted": accepted,
                "refused": refused,
                "wall_s": round(wall),
                "per_s": round(accepted as f64 / wall),
                "latency": summary(&ms),
                "ingest_cpu_ms_per_upload": per("ingest"),
                "s3_server_cpu_ms_per_upload": per("s3_server"),
                "postgres_cpu_ms_per_upload": per("postgres_bench_db"),
                "rabbitmq_cpu_ms_per_upload": per("rabbitmq"),
                "client_cpu_ms_per_upload": per("client"),
                "cpu": before.until(&after),
            });
        }
    }
    let ratio = |a: &Value, b: &Value| match (a.as_f64(), b.as_f64()) {
        (Some(a), Some(b)) if b > 0.0 => json!(round(a / b)),
        _ => Value::Null,
    };
    emit(&json!({
        "bench": "ingest",
        "scenario": format!("{}-n{uploads}-c{concurrency}-delay{}", upload.name, target.processing_delay_ms),
        "run": target.run,
        "variant": target.variant,
        "file_bytes": upload.bytes.len(),
        "uploads": uploads,
        "concurrency": concurrency,
        "processing_delay_ms": target.processing_delay_ms,
        "order": if put_first { "put-first" } else { "ingest-first" },
        "ingest": ingest_out,
        "raw_put": put_out,
        "rate_ratio": ratio(&ingest_out["per_s"], &put_out["per_s"]),
        "p50_ratio": ratio(&ingest_out["latency"]["p50_ms"], &put_out["latency"]["p50_ms"]),
        "p99_ratio": ratio(&ingest_out["latency"]["p99_ms"], &put_out["latency"]["p99_ms"]),
        "loadavg_before": load_before,
        "loadavg_after": loadavg(),
    }));
    Ok(())
}

/// `n` raw PUTs of `bytes` with ingest's storage client: (ok, failed, latencies, wall).
async fn put_many(
    storage: &Storage,
    bytes: &Bytes,
    n: usize,
    concurrency: usize,
) -> (usize, usize, Vec<f64>, f64) {
    let (storage, bytes) = (storage.clone(), bytes.clone());
    let (results, wall) = closed_loop(n, concurrency, move |_| {
        let (storage, bytes) = (storage.clone(), bytes.clone());
        async move {
            let key = format!("bench-raw/{}", Uuid::now_v7());
            let start = Instant::now();
            let ok = storage
                .uploads
                .upload_file(&key, bytes, "image/jpeg")
                .await
                .is_ok();
            (ok, start.elapsed().as_secs_f64() * 1000.0)
        }
    })
    .await;
    let ok = results.iter().filter(|(ok, _)| *ok).count();
    let ms = results.iter().map(|(_, ms)| *ms).collect();
    (ok, results.len() - ok, ms, wall.as_secs_f64())
}

/// Benchmark 3: bursts of uploads to all COMPLETED, and the per-task overhead.
pub async fn e2e(
    target: &Target,
    file: &Path,
    burst: usize,
    rounds: usize,
    concurrency: usize,
    label: Option<String>,
) -> anyhow::Result<()> {
    let upload = Upload::read(file)?;
    let api = Api::new(&target.ingest_url)?;
    Services::read(&target.state)?;
    let db = Db::connect(&target.database.database_url).await?;
    let delay_ms = target.processing_delay_ms as f64;
    let capacity = usize::from(target.processor_concurrency).max(1);
    let load_before = loadavg();
    db.wait_idle(Duration::from_secs(900)).await?;

    let kernel_before = kernel_totals(&api, &target.processor_url).await?;
    let stages_before = stage_totals(&api, &target.processor_url).await?;
    let mut all_ids = Vec::new();
    let mut upload_ms = Vec::new();
    let mut per_round = Vec::new();
    let mut refused_total = 0;
    for round_no in 0..rounds.max(1) {
        eprintln!(
            "burst {}/{}: {burst} uploads, delay {delay_ms} ms",
            round_no + 1,
            rounds
        );
        let start_epoch = epoch_now();
        let start = Instant::now();
        let (samples, accept_wall) = upload_many(&api, &upload, burst, concurrency).await;
        let (accepted, refused, ids, ms) = tally(&samples);
        refused_total += burst - accepted;
        upload_ms.extend(ms);
        let waves = burst.div_ceil(capacity) as f64;
        let limit = Duration::from_secs_f64(waves * (delay_ms / 1000.0 + 1.0) * 3.0 + 120.0);
        let done = db.wait_finished(&ids, limit).await?;
        let observed = done.duration_since(start).as_secs_f64();
        let (_, completed) = db.finished(&ids).await?;
        let timings = db.timings(&ids).await?;
        let first_created = timings
            .iter()
            .map(|t| t.created)
            .fold(f64::INFINITY, f64::min);
        let last_completed = timings.iter().map(|t| t.completed).fold(0.0, f64::max);
        per_round.push(json!({
            "accepted": accepted,
            "refused": refused,
            "completed": completed,
            "all_accepted_s": round(accept_wall),
            "all_completed_seen_s": round(observed),
            "last_completed_at_s": round(last_completed - start_epoch),
            "first_created_to_last_completed_s": round(last_completed - first_created),
        }));
        all_ids.extend(ids);
    }
    let kernel_after = kernel_totals(&api, &target.processor_url).await?;
    let kernel_jobs = kernel_after.1 - kernel_before.1;
    // Mean time of each step of a job in the processor, over this benchmark's jobs.
    let stages_after = stage_totals(&api, &target.processor_url).await?;
    let stage_ms: serde_json::Map<String, Value> = stages_after
        .iter()
        .map(|(stage, (sum, count))| {
            let (sum0, count0) = stages_before.get(stage).copied().unwrap_or_default();
            let n = count - count0;
            let mean = if n > 0.0 {
                (sum - sum0) / n * 1000.0
            } else {
                f64::NAN
            };
            (stage.clone(), json!(round(mean)))
        })
        .collect();
    let kernel_ms = if kernel_jobs > 0.0 {
        (kernel_after.0 - kernel_before.0) / kernel_jobs * 1000.0
    } else {
        f64::NAN
    };

    let timings = db.timings(&all_ids).await?;
    let overhead: Vec<f64> = timings
        .iter()
        .map(|t| t.pickup_ms + t.work_ms - delay_ms - kernel_ms)
        .collect();
    let pickup: Vec<f64> = timings.iter().map(|t| t.pickup_ms).collect();
    let in_processor: Vec<f64> = timings
        .iter()
        .map(|t| t.work_ms - delay_ms - kernel_ms)
        .collect();
    let round_values =
        |key: &str| -> Vec<f64> { per_round.iter().filter_map(|r| r[key].as_f64()).collect() };
    emit(&json!({
        "bench": "e2e",
        "scenario": label.unwrap_or_else(|| format!("burst{burst}-delay{}", target.processing_delay_ms)),
        "run": target.run,
        "variant": target.variant,
        "burst": burst,
        "rounds": rounds,
        "concurrency": concurrency,
        "processing_delay_ms": target.processing_delay_ms,
        "processor_concurrency": capacity,
        "file_bytes": upload.bytes.len(),
        "refused": refused_total,
        // The capacity bound: waves of `capacity` jobs, each at least the delay long.
        "capacity_bound_s": round(burst.div_ceil(capacity) as f64 * delay_ms / 1000.0),
        "all_completed_seen_s": round(median(&round_values("all_completed_seen_s"))),
        "last_completed_at_s": round(median(&round_values("last_completed_at_s"))),
        "all_accepted_s": round(median(&round_values("all_accepted_s"))),
        "kernel_mean_ms": round(kernel_ms),
        "kernel_jobs": kernel_jobs,
        "stage_mean_ms": stage_ms,
        "overhead": summary(&overhead),
        "pickup": summary(&pickup),
        "in_processor_overhead": summary(&in_processor),
        "upload_latency": summary(&upload_ms),
        "rounds_detail": per_round,
        "loadavg_before": load_before,
        "loadavg_after": loadavg(),
    }));
    Ok(())
}

/// Samples `pid`'s VmRSS every 10 ms until stopped; keeps the largest.
struct RssSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    handle: tokio::task::JoinHandle<()>,
}

impl RssSampler {
    fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let handle = tokio::spawn({
            let (stop, peak) = (stop.clone(), peak.clone());
            async move {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(rss) = status_kib(pid, "VmRSS") {
                        peak.fetch_max(rss, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        });
        Self { stop, peak, handle }
    }

    async fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.handle.await;
        self.peak.load(Ordering::Relaxed)
    }
}

fn s3_server_pid() -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.find_map(|entry| {
        let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        matches!(comm.trim(), "s3s-fs" | "minio").then_some(pid)
    })
}

/// Benchmark 4a: ingest's peak RSS during concurrent uploads of a large file.
pub async fn memory_ingest(
    target: &Target,
    file: &Path,
    uploads: usize,
    concurrency: usize,
    label: Option<String>,
) -> anyhow::Result<()> {
    let upload = Upload::read(file)?;
    let api = Api::new(&target.ingest_url)?;
    let services = Services::read(&target.state)?;
    let db = Db::connect(&target.database.database_url).await?;
    let before_rss = status_kib(services.ingest, "VmRSS");
    let before_hwm = status_kib(services.ingest, "VmHWM");
    let reset = procfs::reset_peak_rss(services.ingest);
    let ingest_sampler = RssSampler::start(services.ingest);
    let s3_sampler = services.s3.or_else(s3_server_pid).map(RssSampler::start);
    let cpu_before = snapshot(services, &db.name);
    eprintln!(
        "memory: {uploads} uploads of {} ({} bytes) at concurrency {concurrency}",
        upload.name,
        upload.bytes.len()
    );
    let (samples, wall) = upload_many(&api, &upload, uploads, concurrency).await;
    let cpu_after = snapshot(services, &db.name);
    let sampled = ingest_sampler.finish().await;
    let s3_peak = match s3_sampler {
        Some(s) => Some(s.finish().await),
        None => None,
    };
    let hwm = status_kib(services.ingest, "VmHWM");
    let (accepted, refused, _, ms) = tally(&samples);
    let file_mb = upload.bytes.len() as f64 / 1e6;
    emit(&json!({
        "bench": "memory",
        "scenario": label.unwrap_or_else(|| format!("ingest-{}MB-x{uploads}", file_mb.round())),
        "run": target.run,
        "variant": target.variant,
        "file_bytes": upload.bytes.len(),
        "uploads": uploads,
        "concurrency": concurrency,
        "accepted": accepted,
        "refused": refused,
        "wall_s": round(wall),
        "upload_latency": summary(&ms),
        "ingest_rss_before_mib": mib(before_rss),
        "ingest_hwm_before_mib": mib(before_hwm),
        "hwm_reset": reset,
        "ingest_peak_rss_mib": mib(hwm),
        "ingest_sampled_peak_rss_mib": mib(Some(sampled)),
        "ingest_rss_after_mib": mib(status_kib(services.ingest, "VmRSS")),
        "s3_server_sampled_peak_rss_mib": mib(s3_peak),
        "ingest_cpu_ms_per_upload": round(
            ticks_to_ms(cpu_after.ticks("ingest") - cpu_before.ticks("ingest")) / accepted.max(1) as f64
        ),
        "cpu": cpu_before.until(&cpu_after),
        "loadavg_after": loadavg(),
    }));
    Ok(())
}

/// Benchmark 4b: the processor's peak RSS while it holds its full in-flight capacity of jobs
/// on a large photograph.
pub async fn memory_processor(
    target: &Target,
    file: &Path,
    uploads: Option<usize>,
    concurrency: usize,
) -> anyhow::Result<()> {
    let upload = Upload::read(file)?;
    let api = Api::new(&target.ingest_url)?;
    let services = Services::read(&target.state)?;
    let db = Db::connect(&target.database.database_url).await?;
    let capacity = usize::from(target.processor_concurrency).max(1);
    let uploads = uploads.unwrap_or(3 * capacity);
    db.wait_idle(Duration::from_secs(300)).await?;
    let before_rss = status_kib(services.processor, "VmRSS");
    let reset = procfs::reset_peak_rss(services.processor);
    let sampler = RssSampler::start(services.processor);
    // How many jobs the processor held at once, from its own gauge.
    let in_flight_peak = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn({
        let (api, url) = (api.clone(), format!("{}/metrics", target.processor_url));
        let (peak, stop) = (in_flight_peak.clone(), stop.clone());
        async move {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(text) = api.get_text(&url).await {
                    let n = metric(&text, "imagepipe_jobs_in_flight");
                    peak.fetch_max(n as u64, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    });
    let cpu_before = snapshot(services, &db.name);
    eprintln!(
        "memory: {uploads} uploads of {} to a processor of capacity {capacity}",
        upload.name
    );
    let (samples, _) = upload_many(&api, &upload, uploads, concurrency).await;
    let (accepted, refused, ids, _) = tally(&samples);
    let delay = target.processing_delay_ms as f64 / 1000.0;
    let limit =
        Duration::from_secs_f64(uploads.div_ceil(capacity) as f64 * (delay + 2.0) * 3.0 + 60.0);
    db.wait_finished(&ids, limit).await?;
    let cpu_after = snapshot(services, &db.name);
    stop.store(true, Ordering::Relaxed);
    let _ = watcher.await;
    let sampled = sampler.finish().await;
    let (_, completed) = db.finished(&ids).await?;
    emit(&json!({
        "bench": "memory",
        "scenario": format!("processor-{}-x{uploads}", upload.name),
        "run": target.run,
        "variant": target.variant,
        "file_bytes": upload.bytes.len(),
        "uploads": uploads,
        "accepted": accepted,
        "refused": refused,
        "completed": completed,
        "processor_concurrency": capacity,
        "processing_delay_ms": target.processing_delay_ms,
        "in_flight_peak": in_flight_peak.load(Ordering::Relaxed),
        "processor_rss_before_mib": mib(before_rss),
        "hwm_reset": reset,
        "processor_peak_rss_mib": mib(status_kib(services.processor, "VmHWM")),
        "processor_sampled_peak_rss_mib": mib(Some(sampled)),
        "processor_cpu_ms_per_job": round(
            ticks_to_ms(cpu_after.ticks("processor") - cpu_before.ticks("processor")) / completed.max(1) as f64
        ),
        "cpu": cpu_before.until(&cpu_after),
        "loadavg_after": loadavg(),
    }));
    Ok(())
}

/// `n` GETs of one task through `concurrency` clients.
async fn get_many(api: &Api, id: Uuid, n: usize, concurrency: usize) -> Vec<f64> {
    let api = api.clone();
    let (samples, _) = closed_loop(n, concurrency, move |_| {
        let api = api.clone();
        async move { api.task(id).await }
    })
    .await;
    samples
        .iter()
        .filter(|s| s.status == 200)
        .map(|s| s.ms)
        .collect()
}

/// Benchmark 5: GET latency idle, during a burst of uploads, and with the burst queued.
pub async fn latency(
    target: &Target,
    file: &Path,
    gets: usize,
    get_concurrency: usize,
    burst: usize,
    concurrency: usize,
) -> anyhow::Result<()> {
    let upload = Upload::read(file)?;
    let api = Api::new(&target.ingest_url)?;
    let services = Services::read(&target.state)?;
    let db = Db::connect(&target.database.database_url).await?;
    let load_before = loadavg();

    // One task, finished: the one every phase reads (a COMPLETED task signs two URLs).
    let first = api
        .upload(&upload.name, upload.bytes.clone(), upload.mime)
        .await;
    let id = first.task_id.context("the first upload was not accepted")?;
    db.wait_finished(&[id], Duration::from_secs(60)).await?;
    get_many(&api, id, 300, get_concurrency).await; // warm-up

    eprintln!("idle: {gets} GETs");
    let idle_cpu0 = snapshot(services, &db.name);
    let idle = get_many(&api, id, gets, get_concurrency).await;
    let idle_cpu1 = snapshot(services, &db.name);

    eprintln!("burst: {burst} uploads, GETs meanwhile");
    let done = Arc::new(AtomicBool::new(false));
    let during = tokio::spawn({
        let (api, done) = (api.clone(), done.clone());
        async move {
            let mut ms = Vec::new();
            while !done.load(Ordering::Relaxed) {
                let s = api.task(id).await;
                if s.status == 200 {
                    ms.push(s.ms);
                }
            }
            ms
        }
    });
    let (samples, accept_wall) = upload_many(&api, &upload, burst, concurrency).await;
    done.store(true, Ordering::Relaxed);
    let during = during.await.unwrap_or_default();
    let (accepted, refused, _, _) = tally(&samples);
    db.wait_outbox_empty(Duration::from_secs(120)).await?;

    let pending_before = db.pending().await?;
    eprintln!("queued ({pending_before} PENDING): {gets} GETs");
    let queued_cpu0 = snapshot(services, &db.name);
    let queued = get_many(&api, id, gets, get_concurrency).await;
    let queued_cpu1 = snapshot(services, &db.name);
    let pending_after = db.pending().await?;

    let idle_s = summary(&idle);
    let queued_s = summary(&queued);
    let ratio = |key: &str| match (queued_s[key].as_f64(), idle_s[key].as_f64()) {
        (Some(q), Some(i)) if i > 0.0 => json!(round(q / i)),
        _ => Value::Null,
    };
    emit(&json!({
        "bench": "latency",
        "scenario": format!("get-c{get_concurrency}-queued{burst}-delay{}", target.processing_delay_ms),
        "run": target.run,
        "variant": target.variant,
        "gets": gets,
        "get_concurrency": get_concurrency,
        "burst": burst,
        "accepted": accepted,
        "refused": refused,
        "burst_accept_s": round(accept_wall),
        "processing_delay_ms": target.processing_delay_ms,
        "idle": idle_s,
        "during_burst": summary(&during),
        "queued": queued_s,
        "pending_before": pending_before,
        "pending_after": pending_after,
        "p99_ratio": ratio("p99_ms"),
        "p50_ratio": ratio("p50_ms"),
        "idle_cpu": idle_cpu0.until(&idle_cpu1),
        "queued_cpu": queued_cpu0.until(&queued_cpu1),
        "loadavg_before": load_before,
        "loadavg_after": loadavg(),
    }));
    Ok(())
}

/// A PNG of random RGB pixels (incompressible, so its size is its pixels), stored without
/// compression, at most `bytes` long and within one row of it.
pub fn make_png(bytes: u64, out: &Path) -> anyhow::Result<()> {
    const WIDTH: u32 = 2048;
    let row = u64::from(WIDTH) * 3 + 1;
    let encode = |height: u32| -> anyhow::Result<Vec<u8>> {
        let mut pixels = vec![0u8; WIDTH as usize * height as usize * 3];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for chunk in pixels.chunks_mut(8) {
            // xorshift64*
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let v = state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        let mut png = Vec::with_capacity(pixels.len() + 4096);
        PngEncoder::new_with_quality(
            &mut png,
            CompressionType::Uncompressed,
            FilterType::NoFilter,
        )
        .write_image(&pixels, WIDTH, height, ExtendedColorType::Rgb8)?;
        Ok(png)
    };
    let mut height = u32::try_from(bytes / row).context("too large")?.max(1);
    let mut png = encode(height)?;
    while png.len() as u64 > bytes && height > 1 {
        let excess = (png.len() as u64 - bytes).div_ceil(row);
        height -= u32::try_from(excess)
            .unwrap_or(height - 1)
            .clamp(1, height - 1);
        png = encode(height)?;
    }
    std::fs::write(out, &png).with_context(|| format!("write {}", out.display()))?;
    eprintln!(
        "{}: {WIDTH}x{height} random RGB, {} bytes",
        out.display(),
        png.len()
    );
    Ok(())
}
