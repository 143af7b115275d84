//! Benchmark 5: GET latency idle, during a burst of uploads, and with the burst queued.

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Bench, emit, tally, upload_many};
use crate::{
    Target,
    client::{Api, closed_loop},
    procfs::{loadavg, snapshot},
    stats::{round, summary},
};

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
pub(crate) async fn run(
    target: &Target,
    file: &Path,
    gets: usize,
    get_concurrency: usize,
    burst: usize,
    concurrency: usize,
) -> anyhow::Result<()> {
    let Bench {
        upload,
        api,
        services,
        db,
    } = Bench::open(target, file).await?;
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
