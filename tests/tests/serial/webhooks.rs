//! A completion webhook waiting in the database is delivered by the next result-writer: the
//! first one is stopped, the next runs as a process and is stopped with SIGTERM.

use std::time::Duration;

use imagepipe_tests::{ServiceProcess, TestSystem, WebhookReceiver, claim_port, task_id_of};

use super::one_at_a_time;
use crate::webhooks::{delivered, logo, options, verify, with_callback};

#[tokio::test]
async fn a_pending_webhook_survives_a_result_writer_restart() {
    let _serial = one_at_a_time().await;
    // The receiver is down at first: the delivery keeps failing.
    let port = claim_port();
    let mut system = TestSystem::start(options(port)).await;
    let url = format!("http://127.0.0.1:{port}/hook");
    let response = system.upload_form(with_callback(logo(), &url), &[]).await;
    assert_eq!(response.status(), 202);
    let task_id = task_id_of(&response.json().await.unwrap());
    system.wait_terminal(task_id, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    // The result-writer goes away; the receiver comes up; a new result-writer delivers.
    system.stop_result_writer().await;
    let receiver = WebhookReceiver::start(port, 0).await;
    let writer =
        ServiceProcess::spawn("imagepipe-result-writer", &system.result_writer_args(), &[]);
    let requests = delivered(&system, &receiver, Duration::from_secs(60)).await;
    let body = verify(requests.last().unwrap());
    assert_eq!(body["task_id"], task_id.to_string());
    assert_eq!(body["event"], "task.completed");
    writer.terminate(Duration::from_secs(30)).await;
    system.cleanup().await;
}
