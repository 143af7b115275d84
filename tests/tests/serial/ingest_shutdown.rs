//! Ingest stopped by SIGTERM while uploads stream in, as a rollout stops a pod. Every upload
//! either completes (202, and its task row, its original and its job are all there) or fails
//! for its client with nothing kept (no row, no object in the uploads bucket), and ingest exits
//! 0 within its bound. Ingest runs as its own process; the rest of the system (and an ingest
//! that relays the outbox and answers the checks) runs in the test. Runs one at a time.
//!
//! What ingest does at SIGTERM: it closes its listener at once, so an upload started after
//! the signal finds the port closed (connection refused; a client retries elsewhere), and
//! gives the requests in flight [`REQUEST_GRACE`] to finish. An upload still streaming its body
//! when that runs out has its connection closed and keeps nothing; one whose body had arrived
//! is stored and recorded (or taken back) to its end even then, and ingest waits for it.

use std::time::{Duration, Instant};

use bytes::Bytes;
use imagepipe_ingest::app::REQUEST_GRACE;
use imagepipe_shared::{db::STATEMENT_TIMEOUT, keys};
use imagepipe_tests::{Options, ServiceProcess, TestSystem, claim_port, good_image, task_id_of};
use serde_json::Value;
use tokio::{sync::mpsc, task::JoinHandle};
use uuid::Uuid;

use super::one_at_a_time;

const DEADLINE: Duration = Duration::from_secs(90);
/// What ingest may take past its grace to exit: closing, the outbox relay's last pass.
const EXIT_MARGIN: Duration = Duration::from_secs(5);
/// Pieces each upload's file is sent in.
const PIECES: usize = 40;

/// What a client of an upload got: the status and body, or the error that ended the request.
type Answer = Result<(u16, Value), reqwest::Error>;

/// An upload whose body the test sends piece by piece, when it wants to.
struct SlowUpload {
    pieces: Vec<Bytes>,
    sender: Option<mpsc::Sender<Bytes>>,
    answer: JoinHandle<Answer>,
}

impl SlowUpload {
    /// Start `POST /api/v1/analyze` of `name` at `base_url` and send the first `sent` pieces.
    async fn start(http: &reqwest::Client, base_url: &str, name: &str, sent: usize) -> Self {
        let bytes = good_image(name);
        let size = bytes.len().div_ceil(PIECES);
        let mut pieces: Vec<Bytes> = bytes.chunks(size).map(Bytes::copy_from_slice).collect();
        pieces.reverse();
        let (sender, receiver) = mpsc::channel::<Bytes>(PIECES);
        let stream = futures::stream::unfold(receiver, |mut receiver| async move {
            let piece = receiver.recv().await?;
            Some((Ok::<_, std::io::Error>(piece), receiver))
        });
        let part = reqwest::multipart::Part::stream(reqwest::Body::wrap_stream(stream))
            .file_name(name.to_owned());
        let request = http
            .post(format!("{base_url}/api/v1/analyze"))
            .multipart(reqwest::multipart::Form::new().part("file", part));
        let answer = tokio::spawn(async move {
            let response = request.send().await?;
            let status = response.status().as_u16();
            let body = response.bytes().await?;
            Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
        });
        let mut upload = Self {
            pieces,
            sender: Some(sender),
            answer,
        };
        for _ in 0..sent {
            upload.send_one().await;
        }
        upload
    }

    /// Send the next piece; whether one was left (and the request still takes it).
    async fn send_one(&mut self) -> bool {
        match (self.pieces.pop(), &self.sender) {
            (Some(piece), Some(sender)) => sender.send(piece).await.is_ok(),
            _ => false,
        }
    }

    /// Send the rest of the body, and wait for the answer.
    async fn finish(mut self) -> Answer {
        while self.send_one().await {}
        self.sender = None;
        self.answer.await.expect("the upload's task")
    }

    /// Keep sending a piece every 500 ms, never the last, until the request ends; its answer.
    async fn trickle_until_answered(mut self) -> Answer {
        while !self.answer.is_finished() && self.pieces.len() > 1 {
            self.send_one().await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        tokio::time::timeout(DEADLINE, &mut self.answer)
            .await
            .expect("the request ends")
            .expect("the upload's task")
    }
}

/// The task an answer accepted, asserting the 202.
fn accepted(answer: Answer, what: &str) -> Uuid {
    let (status, body) = answer.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(status, 202, "{what}: {body}");
    task_id_of(&body)
}

/// An ingest of `system` as a process, ready; its base URL.
async fn ingest_process(system: &TestSystem) -> (ServiceProcess, String) {
    let port = claim_port();
    let process = ServiceProcess::spawn("imagepipe-ingest", &system.ingest_args(port), &[]);
    let base_url = format!("http://127.0.0.1:{port}");
    system
        .eventually("the ingest process is ready", DEADLINE, || async {
            system
                .http
                .get(format!("{base_url}/health/ready"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        })
        .await;
    (process, base_url)
}

/// SIGTERM now; the exit code and when it came, from a task the test awaits later.
fn terminate(process: ServiceProcess, bound: Duration) -> JoinHandle<(Option<i32>, Duration)> {
    let signalled = Instant::now();
    tokio::spawn(async move {
        let code = process.terminate(bound + Duration::from_secs(30)).await;
        (code, signalled.elapsed())
    })
}

/// Exactly the tasks `accepted` exist, with their originals and nothing else in the uploads
/// bucket.
async fn only_these_are_kept(system: &TestSystem, accepted: &[Uuid]) {
    assert_eq!(
        system.task_count().await,
        accepted.len() as i64,
        "a task row for every 202 and for nothing else"
    );
    let mut kept = system.storage.uploads.keys().await.expect("S3 reachable");
    kept.sort();
    let mut originals: Vec<String> = accepted.iter().map(|id| keys::original_key(*id)).collect();
    originals.sort();
    assert_eq!(kept, originals, "an original for every 202 and no orphan");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_uploads_stream_in_completes_or_cleanly_refuses_each_and_exits_0() {
    let _serial = one_at_a_time().await;
    let mut system = TestSystem::start(Options {
        start_processor: false,
        processing_delay_ms: 200,
        ..Options::default()
    })
    .await;
    let (process, base_url) = ingest_process(&system).await;
    // A client per upload: no connection is shared or kept between them.
    let client = || reqwest::Client::builder().build().expect("http client");
    let names = ["rocket.jpg", "coffee.png", "camera.png", "chelsea.png"];
    let name = |i: usize| names[i % names.len()];

    // 3 uploads sent whole, slowly, before the signal.
    let mut tasks = Vec::new();
    for i in 0..3 {
        let upload = SlowUpload::start(&client(), &base_url, name(i), 0).await;
        tasks.push(accepted(upload.finish().await, "an upload before SIGTERM"));
    }
    // 7 half sent when it comes.
    let mut streaming = Vec::new();
    for i in 0..7 {
        streaming.push(SlowUpload::start(&client(), &base_url, name(i), PIECES / 2).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let exit = terminate(process, REQUEST_GRACE + EXIT_MARGIN);

    // After it: the listener is closed at once, so a new upload is refused.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 0..2 {
        let upload = SlowUpload::start(&client(), &base_url, name(i), 0).await;
        let error = upload.finish().await.expect_err("no upload after SIGTERM");
        assert!(error.is_connect(), "connection refused: {error:?}");
    }
    // 4 of the 7 finish within the grace: accepted.
    let cut = streaming.split_off(4);
    for upload in streaming {
        tasks.push(accepted(
            upload.finish().await,
            "an upload finished in the grace",
        ));
    }
    // 3 are still streaming when the grace runs out: their connections are closed.
    let cuts: Vec<_> = cut
        .into_iter()
        .map(|upload| tokio::spawn(upload.trickle_until_answered()))
        .collect();
    for cut in cuts {
        let answer = cut.await.expect("the upload's task");
        assert!(answer.is_err(), "an upload cut by the grace: {answer:?}");
    }
    let (code, took) = exit.await.expect("the SIGTERM task");
    eprintln!("ingest shutdown: exit {code:?} {took:?} after SIGTERM");
    assert_eq!(code, Some(0), "clean exit on SIGTERM");
    assert!(
        took >= REQUEST_GRACE && took <= REQUEST_GRACE + EXIT_MARGIN,
        "exited {took:?} after SIGTERM, with a grace of {REQUEST_GRACE:?}"
    );

    // 7 accepted, each with its row and its original; the 5 others left nothing.
    assert_eq!(tasks.len(), 7);
    only_these_are_kept(&system, &tasks).await;
    // Each accepted upload's job: published by the stopped ingest, or in the outbox for the
    // test's own ingest to publish; never in neither.
    system
        .eventually("a job queued for every 202", DEADLINE, || async {
            system.outbox_len().await == 0
                && system.queue_depth(&system.topology.jobs_queue()).await == tasks.len() as u32
        })
        .await;
    system.start_processor();
    system.all_completed(&tasks, DEADLINE).await;
    system.cleanup().await;
}

/// The database goes silent just as the last upload's body arrives, near the end of the grace:
/// its original is stored, and its task's transaction waits (at most `STATEMENT_TIMEOUT`) past
/// the moment the grace closes its connection. Ingest must still take the original back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_being_stored_when_the_grace_runs_out_leaves_no_orphan() {
    let _serial = one_at_a_time().await;
    let system = TestSystem::start(Options {
        start_processor: false,
        proxy_db: true,
        ..Options::default()
    })
    .await;
    let (process, base_url) = ingest_process(&system).await;
    let http = reqwest::Client::new();
    let upload = SlowUpload::start(&http, &base_url, "rocket.jpg", PIECES / 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The grace, then the task's transaction's deadline, then that of the outbox relay's pass
    // (it too meets the silent database).
    let bound = REQUEST_GRACE + 2 * STATEMENT_TIMEOUT + EXIT_MARGIN;
    let exit = terminate(process, bound);

    // Less than one statement's deadline before the grace ends, the database goes silent and
    // the body is sent whole.
    tokio::time::sleep(REQUEST_GRACE - STATEMENT_TIMEOUT / 2).await;
    system
        .db_proxy
        .as_ref()
        .expect("a database proxy")
        .black_hole();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let answer = tokio::spawn(upload.finish());
    system
        .eventually("the original is stored", DEADLINE, || async {
            system.storage.uploads.count().await.expect("S3 reachable") == 1
        })
        .await;
    let answer = answer.await.expect("the upload's task");
    assert!(
        answer.is_err(),
        "the grace closed the connection: {answer:?}"
    );
    let (code, took) = exit.await.expect("the SIGTERM task");
    eprintln!("ingest shutdown while storing: exit {code:?} {took:?} after SIGTERM");
    assert_eq!(code, Some(0), "clean exit on SIGTERM");
    assert!(took <= bound, "exited {took:?} after SIGTERM");

    // The test looks at the database directly, not through the proxy.
    only_these_are_kept(&system, &[]).await;
    system.cleanup().await;
}
