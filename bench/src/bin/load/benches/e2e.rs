//! Benchmark 3: bursts of uploads to all COMPLETED, and the per-task overhead.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use super::{Bench, emit, epoch_now, tally, upload_many};
use crate::{
    Target,
    client::{kernel_totals, stage_totals},
    procfs::loadavg,
    stats::{median, round, summary},
};

/// Benchmark 3: bursts of uploads to all COMPLETED, and the per-task overhead.
pub(crate) async fn run(
    target: &Target,
    file: &Path,
    burst: usize,
    rounds: usize,
    concurrency: usize,
    label: Option<String>,
) -> anyhow::Result<()> {
    let Bench {
        upload, api, db, ..
    } = Bench::open(target, file).await?;
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
