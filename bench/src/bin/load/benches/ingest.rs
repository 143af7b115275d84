//! Benchmark 2: ingest under load against the object store's own PUT rate.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use bytes::Bytes;
use imagepipe_shared::storage::Storage;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Bench, emit, tally, upload_many};
use crate::{
    Target,
    client::closed_loop,
    procfs::{loadavg, ns_to_ms, snapshot},
    stats::{round, summary},
};

/// Benchmark 2: ingest under load against the object store's own PUT rate.
pub(crate) async fn run(
    target: &Target,
    file: &Path,
    uploads: usize,
    concurrency: usize,
    warmup: usize,
    put_first: bool,
) -> anyhow::Result<()> {
    let Bench {
        upload,
        api,
        services,
        db,
    } = Bench::open(target, file).await?;
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
            let s3 = before.ns_until(&after, "s3_server");
            let client = before.ns_until(&after, "client");
            put_out = json!({
                "ok": ok,
                "failed": failed,
                "wall_s": round(wall),
                "per_s": round(ok as f64 / wall),
                "latency": summary(&ms),
                "s3_server_cpu_ms_per_put": round(ns_to_ms(s3) / ok.max(1) as f64),
                "client_cpu_ms_per_put": round(ns_to_ms(client) / ok.max(1) as f64),
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
                round(ns_to_ms(before.ns_until(&after, group)) / accepted.max(1) as f64)
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
