//! Chaos under load: 2 ingest, 3 processors and 2 result-writers as processes, steady client
//! load, a random fault every few seconds (SIGKILL and SIGTERM of every service, cuts and
//! black holes of the object store, the broker and the database, broker restarts), then the
//! checker's accounting of every accepted upload (`imagepipe_tests::chaos`). `CHAOS_SECS`
//! sets the length (180 s here, in CI), `CHAOS_SEED` replays a run's faults;
//! `scripts/chaos.sh SECONDS` runs it long.

use imagepipe_tests::chaos;

use super::one_at_a_time;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_under_load_loses_duplicates_and_strands_nothing() {
    let _serial = one_at_a_time().await;
    let started = std::time::Instant::now();
    let figures = chaos::run(chaos::Settings::from_env(180)).await;
    eprintln!(
        "chaos: the test took {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let problems = figures.problems();
    assert!(
        problems.is_empty(),
        "chaos run with seed {} (CHAOS_SEED={} replays its faults): {problems:#?}",
        figures.seed,
        figures.seed
    );
    assert!(figures.accepted > 0, "the load got uploads accepted");
}
