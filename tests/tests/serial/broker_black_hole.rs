//! A broker that goes silent (a partition, a hung server: the proxy holds every connection and
//! carries nothing), found by the chaos run: connections it held stay dead after it answers
//! again, and nothing on them says so but the AMQP heartbeat. Every service notices within
//! its heartbeat and reconnects, and a service told to stop meanwhile still exits. Runs one
//! at a time with the other serial tests.

use std::time::Duration;

use imagepipe_tests::{Options, ServiceProcess, TestSystem, claim_port, good_image};

use super::one_at_a_time;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_broker_black_hole_work_flows_again_within_the_heartbeat() {
    let _serial = one_at_a_time().await;
    let system = TestSystem::start(Options {
        proxy_amqp: true,
        ..Options::default()
    })
    .await;
    // Every service has its connections open and in use.
    let first = system
        .upload_accepted("rocket.jpg", good_image("rocket.jpg"))
        .await;
    system
        .all_completed(&[first], Duration::from_secs(60))
        .await;

    let proxy = system.amqp_proxy.as_ref().unwrap();
    proxy.black_hole();
    tokio::time::sleep(Duration::from_secs(3)).await;
    proxy.restore();

    // The processor's and the result-writer's consumers sat on dead connections: with the
    // broker's 60 s heartbeat they noticed after two minutes, and no job moved meanwhile.
    let started = std::time::Instant::now();
    let second = system
        .upload_accepted("coffee.png", good_image("coffee.png"))
        .await;
    let task = system.wait_terminal(second, Duration::from_secs(60)).await;
    assert_eq!(task["status"], "COMPLETED", "{task}");
    let took = started.elapsed();
    eprintln!("after the black hole, a task completed in {took:?}");
    assert!(
        took < Duration::from_secs(40),
        "work flowed again only after {took:?}"
    );
    system.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_the_broker_is_black_holed_still_exits_cleanly() {
    let _serial = one_at_a_time().await;
    let mut system = TestSystem::start(Options {
        start_processor: false,
        proxy_amqp: true,
        ..Options::default()
    })
    .await;
    system.stop_ingest().await;
    system.stop_result_writer().await;
    let port = claim_port();
    let services = [
        ("imagepipe-ingest", system.ingest_args(port), port),
        (
            "imagepipe-processor",
            system.processor_args(),
            system.processor_health_port,
        ),
        (
            "imagepipe-result-writer",
            system.result_writer_args(),
            system.result_writer_health_port,
        ),
    ];
    let mut processes = Vec::new();
    for (name, args, port) in &services {
        processes.push(ServiceProcess::spawn(name, args, &[]));
        // Ready: each has its broker connections (ingest's publisher, the consumers).
        system.wait_worker_readiness(*port, 200, name).await;
    }
    let proxy = system.amqp_proxy.as_ref().unwrap();
    proxy.black_hole();
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Each stops within its grace (10 s here), the broker's silence notwithstanding.
    let stops = processes
        .into_iter()
        .map(|process| process.terminate_or_kill(Duration::from_secs(25)));
    let codes = futures::future::join_all(stops).await;
    proxy.restore();
    for ((name, _, _), code) in services.iter().zip(codes) {
        assert_eq!(code, Some(Some(0)), "{name} exits 0 on SIGTERM");
    }
    system.cleanup().await;
}
