//! Tables of medians from the JSON lines the benchmarks print: for every benchmark and
//! scenario, each numeric value of the runs and their median.

use std::{collections::BTreeMap, path::PathBuf};

use anyhow::Context;
use serde_json::Value;

use crate::stats::median;

/// The values worth a headline, per benchmark: (label, JSON path).
fn headline(bench: &str) -> &'static [(&'static str, &'static str)] {
    match bench {
        "ingest" => &[
            ("accepted uploads/s", "ingest.per_s"),
            ("raw PUT/s", "raw_put.per_s"),
            ("rate ratio (≥ 0.85)", "rate_ratio"),
            ("POST p50 ms", "ingest.latency.p50_ms"),
            ("POST p99 ms", "ingest.latency.p99_ms"),
            ("POST max ms", "ingest.latency.max_ms"),
            ("PUT p50 ms", "raw_put.latency.p50_ms"),
            ("PUT p99 ms", "raw_put.latency.p99_ms"),
            ("PUT max ms", "raw_put.latency.max_ms"),
            ("p99 ratio (≤ 1.5)", "p99_ratio"),
            (
                "ingest CPU ms/upload (≤ 1.5)",
                "ingest.ingest_cpu_ms_per_upload",
            ),
            (
                "S3 server CPU ms/upload",
                "ingest.s3_server_cpu_ms_per_upload",
            ),
            ("S3 server CPU ms/PUT", "raw_put.s3_server_cpu_ms_per_put"),
            (
                "PostgreSQL CPU ms/upload",
                "ingest.postgres_cpu_ms_per_upload",
            ),
            (
                "RabbitMQ CPU ms/upload",
                "ingest.rabbitmq_cpu_ms_per_upload",
            ),
            ("client CPU ms/upload", "ingest.client_cpu_ms_per_upload"),
            ("client CPU ms/PUT", "raw_put.client_cpu_ms_per_put"),
            ("machine CPU s busy, uploads", "ingest.cpu.machine_busy_s"),
            (
                "machine CPU s there, uploads",
                "ingest.cpu.machine_capacity_s",
            ),
            ("other users' CPU s, uploads", "ingest.cpu.other_s"),
            ("machine CPU s busy, PUTs", "raw_put.cpu.machine_busy_s"),
            (
                "machine CPU s there, PUTs",
                "raw_put.cpu.machine_capacity_s",
            ),
            ("other users' CPU s, PUTs", "raw_put.cpu.other_s"),
        ],
        "e2e" => &[
            ("all COMPLETED (seen) s", "all_completed_seen_s"),
            ("last completed_at s", "last_completed_at_s"),
            ("capacity bound s", "capacity_bound_s"),
            ("all accepted s", "all_accepted_s"),
            ("overhead p50 ms (≤ 20)", "overhead.p50_ms"),
            ("overhead p99 ms", "overhead.p99_ms"),
            ("pickup p50 ms", "pickup.p50_ms"),
            ("pickup p99 ms", "pickup.p99_ms"),
            (
                "in-processor overhead p50 ms",
                "in_processor_overhead.p50_ms",
            ),
            (
                "in-processor overhead p99 ms",
                "in_processor_overhead.p99_ms",
            ),
            ("kernel mean ms", "kernel_mean_ms"),
            (
                "PROCESSING event confirmed, mean ms",
                "stage_mean_ms.report_processing",
            ),
            ("original fetched, mean ms", "stage_mean_ms.fetch"),
            ("wait for a core, mean ms", "stage_mean_ms.slot_wait"),
            ("result stored, mean ms", "stage_mean_ms.store"),
            ("upload p99 ms", "upload_latency.p99_ms"),
        ],
        "memory" => &[
            ("ingest peak RSS MiB (≤ 400)", "ingest_peak_rss_mib"),
            ("ingest sampled peak MiB", "ingest_sampled_peak_rss_mib"),
            ("ingest RSS before MiB", "ingest_rss_before_mib"),
            ("accepted", "accepted"),
            ("upload p50 ms", "upload_latency.p50_ms"),
            ("upload p99 ms", "upload_latency.p99_ms"),
            ("ingest CPU ms/upload", "ingest_cpu_ms_per_upload"),
            (
                "S3 server sampled peak MiB",
                "s3_server_sampled_peak_rss_mib",
            ),
            ("processor peak RSS MiB", "processor_peak_rss_mib"),
            (
                "processor sampled peak MiB",
                "processor_sampled_peak_rss_mib",
            ),
            ("processor RSS before MiB", "processor_rss_before_mib"),
            ("processor jobs in flight (peak)", "in_flight_peak"),
            ("processor CPU ms/job", "processor_cpu_ms_per_job"),
        ],
        "latency" => &[
            ("idle p50 ms", "idle.p50_ms"),
            ("idle p99 ms", "idle.p99_ms"),
            ("idle max ms", "idle.max_ms"),
            ("queued p50 ms", "queued.p50_ms"),
            ("queued p99 ms", "queued.p99_ms"),
            ("queued max ms", "queued.max_ms"),
            ("p99 ratio (≤ 2)", "p99_ratio"),
            ("during burst p50 ms", "during_burst.p50_ms"),
            ("during burst p99 ms", "during_burst.p99_ms"),
            ("PENDING while measured", "pending_before"),
            ("burst accepted in s", "burst_accept_s"),
        ],
        _ => &[],
    }
}

fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |v, key| v.get(key))
}

/// Every numeric leaf as (dotted path, value), in document order.
fn leaves(prefix: &str, value: &Value, out: &mut Vec<(String, f64)>) {
    match value {
        Value::Number(n) => {
            if let Some(v) = n.as_f64() {
                out.push((prefix.to_owned(), v));
            }
        }
        Value::Object(map) => {
            for (key, v) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                leaves(&path, v, out);
            }
        }
        _ => {}
    }
}

fn fmt(v: f64) -> String {
    if !v.is_finite() {
        "–".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

pub(crate) fn summarize(files: &[PathBuf]) -> anyhow::Result<()> {
    // (bench, scenario, variant) → runs, in the order first seen.
    let mut groups: Vec<((String, String, String), Vec<Value>)> = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).with_context(|| file.display().to_string())?;
        for line in text.lines().filter(|l| l.trim_start().starts_with('{')) {
            let value: Value = serde_json::from_str(line)?;
            let key = (
                value["bench"].as_str().unwrap_or("?").to_owned(),
                value["scenario"].as_str().unwrap_or("?").to_owned(),
                value["variant"].as_str().unwrap_or("head").to_owned(),
            );
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, runs)) => runs.push(value),
                None => groups.push((key, vec![value])),
            }
        }
    }
    for ((bench, scenario, variant), runs) in &groups {
        println!("### {bench}: {scenario}, {variant} ({} runs)\n", runs.len());
        let header: Vec<String> = (1..=runs.len()).map(|i| format!("run {i}")).collect();
        println!("| | median | {} |", header.join(" | "));
        println!("|---|---:|{}", "---:|".repeat(runs.len()));
        let row = |label: &str, values: &[f64]| {
            let cells: Vec<String> = values.iter().map(|v| fmt(*v)).collect();
            println!(
                "| {label} | **{}** | {} |",
                fmt(median(values)),
                cells.join(" | ")
            );
        };
        for (label, path) in headline(bench) {
            let values: Vec<f64> = runs
                .iter()
                .map(|r| lookup(r, path).and_then(Value::as_f64).unwrap_or(f64::NAN))
                .collect();
            if values.iter().any(|v| v.is_finite()) {
                row(label, &values);
            }
        }
        println!();
        // Everything else, for the record.
        let mut all: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        let mut order = Vec::new();
        for (i, run) in runs.iter().enumerate() {
            let mut out = Vec::new();
            leaves("", run, &mut out);
            for (path, v) in out {
                let entry = all.entry(path.clone()).or_insert_with(|| {
                    order.push(path.clone());
                    vec![f64::NAN; runs.len()]
                });
                entry[i] = v;
            }
        }
        println!("<details><summary>all values</summary>\n");
        println!("| | median | {} |", header.join(" | "));
        println!("|---|---:|{}", "---:|".repeat(runs.len()));
        for path in &order {
            row(path, &all[path]);
        }
        println!("\n</details>\n");
    }
    Ok(())
}
