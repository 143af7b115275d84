//! The kernel's throughput through the processor's own kernel pool, at idle priority
//! (`SCHED_IDLE`, the default) against normal priority, on a machine with nothing else to
//! run: what idle priority costs the pixels when nobody competes for the cores (issue 16:
//! within 5%).
//!
//! Each round runs `--jobs` jobs of one chain on `photo-2mp.jpg` through a fresh pool of
//! `--threads` threads (default one per core), every slot busy, and times the whole round;
//! rounds alternate the two priorities, so a change in the machine's load hits both. One
//! JSON object per round goes to stdout, then one per chain and priority with the median.
//!
//!     pool [--rounds N] [--jobs N] [--threads N] [FILE]

#![allow(clippy::print_stdout)] // Printing the results is the point.

use std::{sync::Arc, time::Instant};

use anyhow::Context;
use clap::Parser;
use imagepipe_processor::{
    kernel,
    kernel_pool::{KernelPool, KernelPriority},
};
use imagepipe_shared::{image_rules::DecodeLimits, steps::Step};
use serde_json::json;

#[derive(Parser)]
struct Args {
    /// Rounds per chain and priority.
    #[arg(long, default_value_t = 7)]
    rounds: usize,
    /// Jobs per round.
    #[arg(long, default_value_t = 64)]
    jobs: usize,
    /// Kernel threads (0: one per core, the processor's default).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// The image; `photo-2mp.jpg` of the test photographs by default.
    file: Option<std::path::PathBuf>,
}

/// The default chain (grayscale, JPEG), and a blur, whose convolution runs on the pool's
/// threads through rayon.
fn chains() -> Vec<(&'static str, Vec<Step>)> {
    let blur = serde_json::from_value(json!([{"op": "blur", "sigma": 2.0},
        {"op": "encode", "format": "jpeg", "quality": 90}]))
    .expect("a valid chain");
    vec![("default", Vec::new()), ("blur", blur)]
}

async fn round(
    pool: &KernelPool,
    bytes: &Arc<Vec<u8>>,
    steps: &Arc<Vec<Step>>,
    jobs: usize,
) -> anyhow::Result<f64> {
    let start = Instant::now();
    let mut running = Vec::with_capacity(jobs);
    for _ in 0..jobs {
        let (bytes, steps) = (bytes.clone(), steps.clone());
        running.push(async move {
            let slot = pool.slot().await?;
            slot.run(move || kernel::run(&bytes, &steps, DecodeLimits::default()))
                .await?
                .map(|_| ())
                .map_err(anyhow::Error::from)
        });
    }
    for result in futures::future::join_all(running).await {
        result?;
    }
    Ok(jobs as f64 / start.elapsed().as_secs_f64())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let file = args
        .file
        .clone()
        .unwrap_or_else(|| imagepipe_tests::testdata("good/photo-2mp.jpg"));
    let bytes = Arc::new(std::fs::read(&file).with_context(|| file.display().to_string())?);
    let threads = match args.threads {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    };
    let priorities = [
        ("idle", KernelPriority::Idle),
        ("normal", KernelPriority::Normal),
    ];
    for (chain, steps) in chains() {
        let steps = Arc::new(steps);
        let mut rates: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        for round_index in 0..args.rounds {
            // Alternate which priority goes first in a round.
            for offset in 0..2 {
                let which = (round_index + offset) % 2;
                let (name, priority) = priorities[which];
                let pool = KernelPool::new(threads, priority, None)?;
                round(&pool, &bytes, &steps, args.jobs.min(threads)).await?; // warm-up
                let rate = round(&pool, &bytes, &steps, args.jobs).await?;
                rates[which].push(rate);
                println!(
                    "{}",
                    json!({"chain": chain, "priority": name, "round": round_index,
                    "threads": threads, "jobs": args.jobs, "images_per_s": rate})
                );
            }
        }
        let medians: Vec<f64> = rates.iter_mut().map(|r| median(r)).collect();
        println!(
            "{}",
            json!({"chain": chain, "summary": true, "threads": threads,
            "idle_images_per_s": medians[0], "normal_images_per_s": medians[1],
            "idle_over_normal": medians[0] / medians[1]})
        );
    }
    Ok(())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
