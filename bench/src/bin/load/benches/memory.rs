//! Benchmark 4: peak RSS of ingest under large concurrent uploads, and of the processor at
//! full concurrency; and the large files they upload.

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use image::{
    ExtendedColorType, ImageEncoder,
    codecs::png::{CompressionType, FilterType, PngEncoder},
};
use serde_json::json;

use super::{Bench, emit, tally, upload_many};
use crate::{
    Target,
    client::metric,
    procfs::{self, loadavg, mib, ns_to_ms, snapshot, status_kib},
    stats::{round, summary},
};

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
        crate::procfs::is_s3_server(comm.trim()).then_some(pid)
    })
}

/// Benchmark 4a: ingest's peak RSS during concurrent uploads of a large file.
pub(crate) async fn ingest(
    target: &Target,
    file: &Path,
    uploads: usize,
    concurrency: usize,
    label: Option<String>,
) -> anyhow::Result<()> {
    let Bench {
        upload,
        api,
        services,
        db,
    } = Bench::open(target, file).await?;
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
            ns_to_ms(cpu_before.ns_until(&cpu_after, "ingest")) / accepted.max(1) as f64
        ),
        "cpu": cpu_before.until(&cpu_after),
        "loadavg_after": loadavg(),
    }));
    Ok(())
}

/// Benchmark 4b: the processor's peak RSS while it holds its full in-flight capacity of jobs
/// on a large photograph.
pub(crate) async fn processor(
    target: &Target,
    file: &Path,
    uploads: Option<usize>,
    concurrency: usize,
) -> anyhow::Result<()> {
    let Bench {
        upload,
        api,
        services,
        db,
    } = Bench::open(target, file).await?;
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
            ns_to_ms(cpu_before.ns_until(&cpu_after, "processor")) / completed.max(1) as f64
        ),
        "cpu": cpu_before.until(&cpu_after),
        "loadavg_after": loadavg(),
    }));
    Ok(())
}

/// A PNG of random RGB pixels (incompressible, so its size is its pixels), stored without
/// compression, at most `bytes` long and within one row of it.
pub(crate) fn make_png(bytes: u64, out: &Path) -> anyhow::Result<()> {
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
