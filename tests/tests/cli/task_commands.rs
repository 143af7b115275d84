//! `status`, `list`, `cancel`, `retry` with an API key, and the exit codes of what cannot
//! work.

use super::*;

const KEY: &str = "cli-test-key";

/// `--api-key KEY --json ARGS...`.
fn keyed<'a>(args: &[&'a str]) -> Vec<&'a str> {
    [&["--api-key", KEY, "--json"][..], args].concat()
}

#[tokio::test]
async fn task_commands_with_an_api_key_and_the_exit_codes_of_what_cannot_work() {
    let mut system = TestSystem::start(Options {
        processing_delay_ms: 20,
        api_keys: vec![KEY.to_owned()],
        // Tasks stay PENDING until the processor starts, so one can be cancelled.
        start_processor: false,
        ..Options::default()
    })
    .await;
    let url = system.base_url.clone();
    let input = folder_of(&["good/rocket.jpg", "good/chelsea.png", "bad/truncated.jpg"]);
    let file = |name: &str| input.path().join(name).to_str().unwrap().to_owned();

    // No key, or a wrong one: exit 2, nothing made, and the message says what to do.
    for wrong in [&[][..], &["--api-key", "not-the-key"][..]] {
        let ran = imagepipe(&url, &[wrong, &["submit", &file("rocket.jpg")]].concat()).await;
        ran.assert_code(2, "the key is refused");
        assert!(
            ran.stderr.contains("unauthorized") && ran.stderr.contains("--api-key"),
            "{}",
            ran.stderr
        );
    }
    assert_eq!(system.task_count().await, 0);

    let submitted = imagepipe(&url, &keyed(&["submit", path_str(input.path())])).await;
    submitted.assert_code(0, "all accepted");
    let lines = submitted.lines();
    let id_of = |name: &str| {
        line_of(&lines, name)["task_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (rocket, chelsea, truncated) = (
        id_of("rocket.jpg"),
        id_of("chelsea.png"),
        id_of("truncated.jpg"),
    );

    let cancelled = imagepipe(&url, &keyed(&["cancel", &rocket])).await;
    cancelled.assert_code(0, "a PENDING task is cancelled");
    assert_eq!(cancelled.lines()[0]["status"], "CANCELLED");
    let again = imagepipe(&url, &keyed(&["cancel", &rocket])).await;
    again.assert_code(1, "an ended task cannot be cancelled");
    assert_eq!(again.lines()[0]["error"]["code"], "task_not_cancellable");

    system.start_processor();
    for (id, wanted) in [(&chelsea, "COMPLETED"), (&truncated, "FAILED")] {
        let start = tokio::time::Instant::now();
        loop {
            let status = imagepipe(&url, &keyed(&["status", id])).await;
            status.assert_code(0, "status of a task");
            let task = &status.lines()[0];
            assert_eq!(task["task_id"], id.as_str());
            if task["status"] == wanted {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{id} {wanted}: {task}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    let completed = imagepipe(&url, &keyed(&["list", "--status", "COMPLETED"])).await;
    completed.assert_code(0, "list");
    let page = &completed.lines()[0];
    let tasks = page["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 1, "{page}");
    assert_eq!(tasks[0]["task_id"], chelsea.as_str());
    // One task a page, every page followed: each task once.
    let pages = imagepipe(&url, &keyed(&["list", "--limit", "1", "--all"])).await;
    pages.assert_code(0, "list --all");
    let pages = pages.lines();
    assert_eq!(pages.len(), 3, "{pages:?}");
    let listed: HashSet<&str> = pages
        .iter()
        .flat_map(|p| p["tasks"].as_array().unwrap())
        .map(|t| t["task_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        HashSet::from([rocket.as_str(), chelsea.as_str(), truncated.as_str()])
    );

    let retried = imagepipe(&url, &keyed(&["retry", &truncated])).await;
    retried.assert_code(0, "a FAILED task is queued again");
    assert_eq!(retried.lines()[0]["task_id"], truncated.as_str());
    let refused = imagepipe(&url, &keyed(&["retry", &chelsea])).await;
    refused.assert_code(1, "only a FAILED task can be retried");
    assert_eq!(refused.lines()[0]["error"]["code"], "task_not_retryable");
    let nobody = Uuid::now_v7().to_string();
    let unknown = imagepipe(&url, &keyed(&["status", &nobody])).await;
    unknown.assert_code(1, "no such task");
    assert_eq!(unknown.lines()[0]["error"]["code"], "task_not_found");

    // The same file again, now waiting: the first upload's task, its result downloaded
    // through the API with the key.
    let out = TempDir::new();
    let fetched = imagepipe(
        &url,
        &keyed(&[
            "submit",
            &file("chelsea.png"),
            "--wait",
            "--out",
            path_str(out.path()),
        ]),
    )
    .await;
    fetched.assert_code(0, "COMPLETED and downloaded");
    assert_eq!(fetched.lines()[0]["task_id"], chelsea.as_str());
    image::open(out.path().join("chelsea.result.png")).unwrap();
    assert_eq!(system.task_count().await, 3);

    // What cannot work at all: exit 2.
    let closed = format!("http://127.0.0.1:{}", claim_port());
    let unreachable = imagepipe(&closed, &["--json", "submit", &file("rocket.jpg")]).await;
    unreachable.assert_code(2, "no server there");
    assert_eq!(unreachable.lines()[0]["error"]["code"], "connection_error");
    imagepipe(&closed, &["status", &rocket])
        .await
        .assert_code(2, "no server there");
    for usage in [
        &["submit"][..],
        &["status", "not-a-uuid"],
        &["submit", &file("rocket.jpg"), "--steps", "not json"],
        &["submit", &file("missing.png")],
        &[
            "submit",
            &file("rocket.jpg"),
            "--steps",
            "[]",
            "--preset",
            "web",
        ],
    ] {
        imagepipe(&url, &keyed(usage))
            .await
            .assert_code(2, &format!("usage: {usage:?}"));
    }
    system.cleanup().await;
}
