//! Throughput of `infer` on a model server: the processor's own client (`ServedModel`, what a
//! job's `infer` step calls) sending one image's input, made by the processor's
//! preprocessing, to a real MLServer at the processor's default concurrency, and a plain
//! client in Python (`bench/infer_reference.py`, keep-alive connections, one per thread)
//! sending the same request body to the same server at the same concurrency. The server is
//! the test's (tests/src/mlserver.rs: MLServer 1.7.1 and the onnxruntime runtime), serving
//! `colours` (tests/reference/make_models.py).
//!
//!     infer_server --models DIR --image IMAGE [--requests N] [--concurrency C] [--rounds R]
//!
//! One JSON object per round and side on stdout: images per second, latency median and 99th
//! percentile, and the most requests in flight at once. Run it through `bench/infer_server.sh`.

#![allow(clippy::print_stdout)] // Printing the results is the point.

use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use clap::Parser;
use futures::StreamExt;
use imagepipe_bench::ms;
use imagepipe_processor::{
    kernel::Pixels,
    models::{declared::Inferred, oip::ServedModel},
};
use imagepipe_shared::models::{DeclaredModels, ModelRuntime};
use imagepipe_tests::{
    MlServer,
    made_models::{colours_on_server, make_models, served_colours},
};
use serde_json::json;

#[derive(Parser)]
struct Args {
    /// Where to make the test's models (colours.onnx, colours.txt, red.png...).
    #[arg(long)]
    models: PathBuf,
    #[arg(long)]
    image: PathBuf,
    #[arg(long, default_value_t = 400)]
    requests: usize,
    /// The processor's default `PROCESSOR_CONCURRENCY`: jobs, and so requests, in flight.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// The reference client and the Python that runs it.
    #[arg(long)]
    python: PathBuf,
    #[arg(long)]
    reference: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    make_models(&args.models);
    let server = MlServer::start(
        &args.models.join("mlserver"),
        vec![colours_on_server(&args.models)],
    )
    .await;
    let model = served(&args, &server.url())?;
    model.verify().await?;
    let input = input(&args, &model)?;
    // The exact body the processor sends, for the reference client.
    let body_file = args.models.join("request.json");
    std::fs::write(
        &body_file,
        serde_json::to_vec(&imagepipe_processor::models::oip::wire::InferRequest::new(
            &model.spec().input.tensor,
            &input,
        ))?,
    )?;
    let ModelRuntime::Oip(declared) = &model.spec().runtime else {
        anyhow::bail!("colours-served is declared on a server");
    };
    let url = declared.infer_url();
    for round in 1..=args.rounds {
        let ours = imagepipe(&model, &input, &args).await?;
        println!(
            "{}",
            json!({"side": "imagepipe", "round": round, "result": ours})
        );
        let output = std::process::Command::new(&args.python)
            .arg(&args.reference)
            .args(["--url", url.as_str(), "--body"])
            .arg(&body_file)
            .args(["--requests", &args.requests.to_string()])
            .args(["--concurrency", &args.concurrency.to_string()])
            .output()?;
        anyhow::ensure!(
            output.status.success(),
            "the reference client failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let theirs: serde_json::Value = serde_json::from_slice(&output.stdout)?;
        println!(
            "{}",
            json!({"side": "python", "round": round, "result": theirs})
        );
    }
    drop(server);
    Ok(())
}

/// `colours` on `url`, declared as the tests declare it.
fn served(args: &Args, url: &str) -> anyhow::Result<Arc<ServedModel>> {
    let file = args.models.join("models-bench.toml");
    std::fs::write(&file, served_colours(url, 32))?;
    let declared = DeclaredModels::load(Some(&file))?;
    let spec = declared
        .get("colours-served")
        .ok_or_else(|| anyhow::anyhow!("declared above"))?;
    let ModelRuntime::Oip(server) = &spec.runtime else {
        anyhow::bail!("declared on a server above");
    };
    Ok(Arc::new(ServedModel::new(spec.clone(), server.clone())))
}

/// The model's input for `--image`, as the kernel makes it for an `infer` step.
fn input(
    args: &Args,
    model: &Arc<ServedModel>,
) -> anyhow::Result<imagepipe_processor::models::preprocess::InputTensor> {
    let pixels = Pixels::from_dynamic(image::open(&args.image)?);
    let step = imagepipe_processor::models::declared::InferModel::Served(model.clone());
    match step.run(pixels.as_ref(), 0)? {
        Inferred::Remote(remote) => Ok(remote.input),
        Inferred::Entry(_) => anyhow::bail!("a served model's step gives its input"),
    }
}

/// `--requests` inferences, `--concurrency` at a time, through the processor's client.
async fn imagepipe(
    model: &Arc<ServedModel>,
    input: &imagepipe_processor::models::preprocess::InputTensor,
    args: &Args,
) -> anyhow::Result<serde_json::Value> {
    let in_flight = AtomicUsize::new(0);
    let most = AtomicUsize::new(0);
    let one = || async {
        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        most.fetch_max(now, Ordering::SeqCst);
        let start = Instant::now();
        let entry = model.infer(input, 0).await;
        in_flight.fetch_sub(1, Ordering::SeqCst);
        entry.map(|_| start.elapsed())
    };
    // Warm the connections up.
    for _ in 0..args.concurrency {
        one().await?;
    }
    most.store(0, Ordering::SeqCst);
    let start = Instant::now();
    let mut latencies: Vec<Duration> = futures::stream::iter(0..args.requests)
        .map(|_| one())
        .buffer_unordered(args.concurrency)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let elapsed = start.elapsed();
    latencies.sort();
    let at = |q: f64| ms(latencies[((latencies.len() - 1) as f64 * q) as usize]);
    Ok(json!({
        "images_per_s": args.requests as f64 / elapsed.as_secs_f64(),
        "p50_ms": at(0.5),
        "p99_ms": at(0.99),
        "max_in_flight": most.load(Ordering::SeqCst),
    }))
}
