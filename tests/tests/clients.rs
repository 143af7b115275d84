//! Clients generated from the served OpenAPI document work without hand edits. Each is
//! generated from this system's `/openapi.json` and runs a user's flow against it, with
//! authentication on: upload with an `Idempotency-Key` and steps, poll to COMPLETED, download
//! the result (checked here against the stored object), list by status across two pages,
//! cancel, and typed 404 and 422 problems.
//!
//! - Python: openapi-python-client (pinned in tests/reference/requirements.txt, its settings
//!   in tests/clients/python/generator.yaml), tests/clients/python/flow.py.
//! - TypeScript: @hey-api/openapi-ts with its fetch client (pinned in
//!   tests/clients/typescript/package-lock.json, settings in openapi-ts.config.mjs),
//!   tests/clients/typescript/flow.ts, type-checked against the generated types by tsc
//!   (strict) and run by Node.

use std::{
    ffi::OsStr,
    path::{Path, PathBuf},
};

use imagepipe_tests::{Options, TestSystem, made_models::reference_python, testdata};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

const KEY: &str = "generated-client-key";

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients")
}

/// Runs `program` with `args`, panicking with its output unless it succeeds; its stdout and
/// stderr. A
/// child awaited, not waited for: the system it talks to runs on this test's runtime.
async fn run(program: &Path, args: &[&OsStr], env: &[(&str, &OsStr)]) -> (String, String) {
    let mut command = tokio::process::Command::new(program);
    command.args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    command.kill_on_drop(true);
    let output = command.output().await.unwrap_or_else(|e| {
        panic!(
            "{} does not run ({e}): ensure_python_tools",
            program.display()
        )
    });
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    );
    assert!(
        output.status.success(),
        "{} failed:\n{stdout}\n{stderr}",
        program.display()
    );
    (stdout, stderr)
}

/// A system with authentication on, quick to process, and a rate limit the flows stay under
/// (so that the document the clients are generated from has its 429s, as in production).
async fn system() -> TestSystem {
    TestSystem::start(Options {
        processing_delay_ms: 0,
        api_keys: vec![KEY.into()],
        rate_limit_per_minute: 6000,
        rate_limit_burst: Some(1000),
        ..Options::default()
    })
    .await
}

/// What a flow printed: the result it downloaded is the stored one.
async fn the_flow_downloaded_the_stored_result(system: &TestSystem, out: &str) {
    let seen: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    let id: Uuid = seen["task_id"].as_str().unwrap().parse().unwrap();
    let (_, task) = system
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/tasks/{id}"),
            Some(KEY),
        )
        .await;
    let stored = system
        .storage
        .processed
        .get_file(task["result"]["key"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(
        seen["result_sha256"],
        hex::encode(Sha256::digest(&stored)),
        "the client downloaded the stored result"
    );
}

#[tokio::test]
async fn the_generated_python_client_runs_a_users_flow() {
    let system = system().await;
    let work =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("python-client-{}", Uuid::now_v7()));
    std::fs::create_dir_all(&work).unwrap();
    let document = work.join("openapi.json");
    std::fs::write(&document, system.openapi_document().await.to_string()).unwrap();

    let generator = reference_python().with_file_name("openapi-python-client");
    let config = clients_dir().join("python/generator.yaml");
    let (out, err) = run(
        &generator,
        &[
            "generate".as_ref(),
            "--path".as_ref(),
            document.as_os_str(),
            "--meta".as_ref(),
            "none".as_ref(),
            "--config".as_ref(),
            config.as_os_str(),
            "--output-path".as_ref(),
            work.join("imagepipe_client").as_os_str(),
        ],
        &[],
    )
    .await;
    // It names every schema and operation it could not turn into code.
    let generated = format!("{out}{err}");
    for warning in ["Unable to process", "Cannot parse", "WARNING"] {
        assert!(!generated.contains(warning), "generator: {generated}");
    }

    let flow = clients_dir().join("python/flow.py");
    let image = testdata("good/rocket.jpg");
    let (out, _) = run(
        &reference_python(),
        &[
            flow.as_os_str(),
            system.base_url.as_ref(),
            KEY.as_ref(),
            image.as_os_str(),
        ],
        &[("PYTHONPATH", work.as_os_str())],
    )
    .await;
    the_flow_downloaded_the_stored_result(&system, &out).await;
    std::fs::remove_dir_all(&work).ok();
    system.cleanup().await;
}

#[tokio::test]
async fn the_generated_typescript_client_runs_a_users_flow() {
    let system = system().await;
    let typescript = clients_dir().join("typescript");
    let bin = |name: &str| typescript.join("node_modules/.bin").join(name);
    assert!(
        bin("openapi-ts").exists(),
        "the TypeScript generator is not installed: source scripts/lib.sh && ensure_client_generators"
    );
    // Inside the package's folder, so tsc and Node find its node_modules.
    let work = typescript.join("work").join(Uuid::now_v7().to_string());
    std::fs::create_dir_all(&work).unwrap();
    let document = work.join("openapi.json");
    std::fs::write(&document, system.openapi_document().await.to_string()).unwrap();
    let config = typescript.join("openapi-ts.config.mjs");
    let (out, err) = run(
        &bin("openapi-ts"),
        &["-f".as_ref(), config.as_os_str()],
        &[
            ("OPENAPI_DOCUMENT", document.as_os_str()),
            ("CLIENT_OUTPUT", work.join("gen").as_os_str()),
        ],
    )
    .await;
    let generated = format!("{out}{err}");
    assert!(
        !generated.to_lowercase().contains("warn"),
        "generator: {generated}"
    );
    std::fs::copy(typescript.join("flow.ts"), work.join("flow.ts")).unwrap();
    std::fs::write(
        work.join("tsconfig.json"),
        r#"{"extends": "../../tsconfig.json", "include": ["flow.ts", "gen"]}"#,
    )
    .unwrap();
    std::fs::write(work.join("package.json"), r#"{"type": "module"}"#).unwrap();
    run(&bin("tsc"), &["-p".as_ref(), work.as_os_str()], &[]).await;

    let image = testdata("good/rocket.jpg");
    let (out, _) = run(
        Path::new("node"),
        &[
            work.join("flow.js").as_os_str(),
            system.base_url.as_ref(),
            KEY.as_ref(),
            image.as_os_str(),
        ],
        &[],
    )
    .await;
    the_flow_downloaded_the_stored_result(&system, &out).await;
    std::fs::remove_dir_all(&work).ok();
    system.cleanup().await;
}
