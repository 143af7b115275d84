//! Seeing it work: live progress over Server-Sent Events, Prometheus metrics on every
//! service, and one trace id carried from the upload through the job to the status events.

use std::time::Duration;

use futures::StreamExt;
use imagepipe_tests::{Options, TestSystem, bad_file, good_image};
use lapin::{
    Connection, ConnectionProperties,
    options::{BasicGetOptions, BasicNackOptions},
    types::AMQPValue,
};
use serde_json::Value;
use uuid::Uuid;

fn logo() -> Vec<u8> {
    good_image("logo.png")
}

/// Read a Server-Sent Events stream to its end: the `status` events' JSON, in order.
async fn read_events(response: reqwest::Response) -> Vec<Value> {
    let mut events = Vec::new();
    let mut buffer = String::new();
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        buffer.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut name = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("event:") {
                    name = Some(value.trim().to_owned());
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push_str(value.trim_start());
                }
            }
            if name.as_deref() == Some("status") {
                events.push(serde_json::from_str(&data).unwrap());
            }
        }
    }
    events
}

#[tokio::test]
async fn task_events_stream_every_change_and_end_with_the_task() {
    let system = TestSystem::start(Options {
        processing_delay_ms: 1500,
        ..Options::default()
    })
    .await;
    let id = system.upload_accepted("logo.png", logo()).await;
    let response = system
        .http
        .get(system.url(&format!("/api/v1/tasks/{id}/events")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    // The stream ends by itself once the task is terminal (the client timeout is the deadline).
    let events = tokio::time::timeout(Duration::from_secs(60), read_events(response))
        .await
        .expect("the stream ends after the task does");
    let statuses: Vec<&str> = events
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.last(), Some(&"COMPLETED"), "{statuses:?}");
    assert!(
        statuses.contains(&"PROCESSING"),
        "the delay makes PROCESSING visible: {statuses:?}"
    );
    let order = ["PENDING", "PROCESSING", "COMPLETED"];
    let ranks: Vec<usize> = statuses
        .iter()
        .map(|s| order.iter().position(|o| o == s).unwrap())
        .collect();
    assert!(
        ranks.windows(2).all(|w| w[0] < w[1]),
        "each change once, in order: {statuses:?}"
    );
    assert!(events.last().unwrap()["result"]["download_url"].is_string());

    // Unknown ids get the usual problem, not an empty stream.
    let (status, problem) = system
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/tasks/{}/events", Uuid::now_v7()),
            None,
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (404, Some("task_not_found"))
    );
    system.cleanup().await;
}

async fn scrape(system: &TestSystem, url: String) -> String {
    let response = system.http.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// The value of one sample line, by its exact name and labels.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn every_service_serves_prometheus_metrics_of_what_it_did() {
    let system = TestSystem::start(Options::default()).await;
    let id = system.upload_accepted("logo.png", logo()).await;
    let refused = system.upload("x.jpg", bad_file("not-an-image.jpg")).await;
    assert_eq!(refused.status(), 415);
    assert_eq!(
        system.wait_terminal(id, Duration::from_secs(60)).await["status"],
        "COMPLETED"
    );
    let jobs = system.topology.jobs_queue();

    let ingest = scrape(&system, system.url("/metrics")).await;
    assert_eq!(
        sample(&ingest, "imagepipe_uploads_accepted_total"),
        Some(1.0),
        "{ingest}"
    );
    assert_eq!(
        sample(
            &ingest,
            r#"imagepipe_uploads_rejected_total{reason="unsupported_media_type"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &ingest,
            r#"imagepipe_http_requests_total{route="analyze",method="POST",status="202"}"#
        ),
        Some(1.0)
    );
    assert!(
        sample(&ingest, r#"imagepipe_http_request_duration_seconds_count{route="get_task",method="GET",status="200"}"#)
            .unwrap()
            >= 1.0
    );
    assert!(ingest.contains(&format!(r#"imagepipe_queue_depth{{queue="{jobs}"}}"#)));

    let processor = scrape(
        &system,
        format!("http://127.0.0.1:{}/metrics", system.processor_health_port),
    )
    .await;
    assert_eq!(
        sample(&processor, "imagepipe_jobs_started_total"),
        Some(1.0),
        "{processor}"
    );
    assert_eq!(
        sample(&processor, "imagepipe_jobs_completed_total"),
        Some(1.0)
    );
    assert_eq!(
        sample(&processor, "imagepipe_processing_seconds_count"),
        Some(1.0)
    );
    assert_eq!(
        sample(&processor, "imagepipe_simulated_delay_seconds_count"),
        Some(1.0)
    );
    assert_eq!(sample(&processor, "imagepipe_jobs_in_flight"), Some(0.0));
    // The steps timed before the COMPLETED event is published (report_completed is timed
    // after its confirm, which may come after the task is seen COMPLETED).
    for stage in ["report_processing", "fetch", "slot_wait", "store"] {
        assert_eq!(
            sample(
                &processor,
                &format!(r#"imagepipe_job_stage_seconds_count{{stage="{stage}"}}"#)
            ),
            Some(1.0),
            "{stage}"
        );
    }

    let writer = scrape(
        &system,
        format!(
            "http://127.0.0.1:{}/metrics",
            system.result_writer_health_port
        ),
    )
    .await;
    assert_eq!(
        sample(
            &writer,
            r#"imagepipe_status_events_total{status="COMPLETED",outcome="changed"}"#
        ),
        Some(1.0),
        "{writer}"
    );
    system.cleanup().await;
}

fn traceparent_of(headers: Option<&lapin::types::FieldTable>) -> String {
    match headers.and_then(|h| h.inner().get("traceparent")) {
        Some(AMQPValue::LongString(value)) => value.to_string(),
        other => panic!("no traceparent header: {other:?}"),
    }
}

#[tokio::test]
async fn the_uploads_trace_id_travels_with_its_job_and_its_status_events() {
    let mut system = TestSystem::start(Options {
        start_processor: false,
        ..Options::default()
    })
    .await;
    // Nobody consumes the events, so the test can look at them.
    system.stop_result_writer().await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response = system
        .upload_form(
            TestSystem::file_form("logo.png", logo()),
            &[("traceparent", &format!("00-{trace_id}-00f067aa0ba902b7-01"))],
        )
        .await;
    assert_eq!(response.status(), 202);

    let connection = Connection::connect(
        "amqp://guest:guest@127.0.0.1:5672/%2f",
        ConnectionProperties::default(),
    )
    .await
    .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let jobs = system.topology.jobs_queue();
    system
        .eventually("the job is queued", Duration::from_secs(20), || async {
            system.queue_depth(&jobs).await == 1
        })
        .await;
    let job = channel
        .basic_get(jobs.as_str().into(), BasicGetOptions::default())
        .await
        .unwrap()
        .expect("the job");
    let header = traceparent_of(job.delivery.properties.headers().as_ref());
    assert!(header.starts_with(&format!("00-{trace_id}-")), "{header}");
    assert!(
        !header.contains("00f067aa0ba902b7"),
        "a new span for the job: {header}"
    );
    job.delivery
        .nack(BasicNackOptions {
            requeue: true,
            multiple: false,
        })
        .await
        .unwrap();

    system.start_processor();
    let events = system.topology.events_queue();
    system
        .eventually(
            "PROCESSING and COMPLETED are published",
            Duration::from_secs(30),
            || async { system.queue_depth(&events).await == 2 },
        )
        .await;
    for _ in 0..2 {
        let event = channel
            .basic_get(events.as_str().into(), BasicGetOptions::default())
            .await
            .unwrap()
            .expect("an event");
        let header = traceparent_of(event.delivery.properties.headers().as_ref());
        assert!(header.starts_with(&format!("00-{trace_id}-")), "{header}");
    }
    connection.close(200, "bye".into()).await.ok();
    system.cleanup().await;
}
