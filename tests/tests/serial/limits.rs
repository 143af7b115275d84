//! The processor's own limits, as defence in depth: a job that bypassed ingest's checks still
//! cannot make it decode an image beyond the pixel limit or exhaust its memory. The processor
//! runs as a process, to measure its peak memory, and is stopped with SIGTERM.

use std::time::Duration;

use imagepipe_tests::{Options, ServiceProcess, TestSystem, bad_file};

use super::one_at_a_time;

/// What the processor may hold at its peak while refusing such a job.
const PEAK_RSS_LIMIT: u64 = 512 * 1024 * 1024;

#[tokio::test]
async fn an_over_limit_image_published_straight_to_the_work_queue_fails_without_exhausting_memory()
{
    let _serial = one_at_a_time().await;
    let system = TestSystem::start(Options {
        start_processor: false,
        ..Options::default()
    })
    .await;
    let bomb = bad_file("bomb-30000x30000.png");
    let id = system
        .enqueue_directly(bomb, "image/png", 30000, 30000)
        .await;

    let processor = ServiceProcess::spawn("imagepipe-processor", &system.processor_args(), &[]);
    let task = system.wait_terminal(id, Duration::from_secs(60)).await;
    assert_eq!(task["status"], "FAILED", "{task}");
    assert_eq!(task["error"]["code"], "image_too_large");
    assert_eq!(task["attempts"], 1, "a permanent failure is not retried");
    let peak = processor.peak_rss_bytes();
    eprintln!("processor peak RSS: {} MiB", peak / (1024 * 1024));
    assert!(peak < PEAK_RSS_LIMIT, "processor peak RSS {peak} bytes");
    processor.terminate(Duration::from_secs(30)).await;
    system.cleanup().await;
}
