//! Chaos under load: a scaled-out imagepipe (several processes of each service sharing one
//! broker, database and object store, each behind a [`FaultProxy`](crate::FaultProxy)) takes
//! steady client load while a driver injects a random fault every few seconds; then, after a
//! quiet period, a checker in the spirit of Jepsen's RabbitMQ checker accounts for every
//! upload answered `202`.
//!
//! - [`cluster`]: the system and its service processes (start, SIGKILL, SIGTERM, restart).
//! - [`load`]: the clients (uploads with and without steps, reads, lists, cancels, retries,
//!   idempotent replays), recording what they were answered in a [`history`].
//! - [`driver`]: the faults, drawn from a seeded RNG ([`faults`] names them).
//! - [`checker`]: waits for the system to settle (at most [`Settings::quiet`], [`settle`]) and
//!   counts what went wrong from what it reads ([`broker`], [`tables`]); [`figures`] prints
//!   the result.
//!
//! Run by the serial test `serial::chaos` (`CHAOS_SECS`, `CHAOS_SEED`) and by
//! `scripts/chaos.sh SECONDS`; the method and a run's figures are in
//! `docs/reliability-chaos.md`.

mod broker;
mod checker;
mod cluster;
mod driver;
mod faults;
mod figures;
mod history;
mod load;
mod settle;
mod tables;

use std::{path::PathBuf, sync::Arc, time::Duration};

use rand::{SeedableRng, rngs::StdRng};
use tokio_util::sync::CancellationToken;

pub use figures::Figures;

/// How a chaos run goes.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long the load runs and faults are injected.
    pub duration: Duration,
    /// The RNG's seed: the same seed draws the same faults at the same offsets.
    pub seed: u64,
    /// How long after the last fault healed every accepted task must have ended, its
    /// webhook been delivered and the queues and outbox drained (D). See [`QUIET`].
    pub quiet: Duration,
    /// Where the services' logs go (one file per instance), if anywhere.
    pub log_dir: Option<PathBuf>,
}

/// D, the quiet period: the longest a healthy system may take, after the last fault healed,
/// to end what it holds. Its parts, one after the other at worst:
/// - a broker connection left dead by a black hole: noticed within two heartbeats (20 s,
///   `amqp::DEFAULT_HEARTBEAT_SECS`), then reconnected (the backoff is at most 5 s) and a
///   publish that timed out on it (10 s) made again;
/// - a job that met the last fault at its first attempt: the retry delays of a chaos system
///   (1 + 2 + 4 + 4 s over 5 attempts, [`cluster::RETRY_DELAYS_MS`]) and each attempt's own
///   object-store timeout (3 s): 26 s;
/// - its webhook claimed by a result-writer that died or could not record the outcome: the
///   claim's lease (25 s with the 10 s request timeout) before another takes it.
///
/// That is about 80 s; D leaves a margin over it. A system that settles earlier is checked at
/// once, so D costs time only when something is wrong.
pub const QUIET: Duration = Duration::from_secs(90);

impl Settings {
    /// `CHAOS_SECS` (default `default_secs`), `CHAOS_SEED` (default: drawn and printed),
    /// `CHAOS_LOG_DIR` (default: logs discarded).
    pub fn from_env(default_secs: u64) -> Self {
        let secs = std::env::var("CHAOS_SECS")
            .ok()
            .map(|s| s.parse().expect("CHAOS_SECS is a number of seconds"))
            .unwrap_or(default_secs);
        let seed = std::env::var("CHAOS_SEED").ok().map_or_else(
            || uuid::Uuid::new_v4().as_u64_pair().0,
            |s| s.parse().expect("CHAOS_SEED is an unsigned integer"),
        );
        Self {
            duration: Duration::from_secs(secs),
            seed,
            quiet: QUIET,
            log_dir: std::env::var_os("CHAOS_LOG_DIR").map(PathBuf::from),
        }
    }
}

/// Run the chaos: start the cluster, load it while injecting faults for `duration`, heal
/// everything, wait for it to settle and check. The figures of the run (the test asserts
/// their counts are zero).
pub async fn run(settings: Settings) -> Figures {
    eprintln!(
        "chaos: seed {} (CHAOS_SEED={} reproduces the faults), {} s of faults, D = {} s",
        settings.seed,
        settings.seed,
        settings.duration.as_secs(),
        settings.quiet.as_secs()
    );
    let started = tokio::time::Instant::now();
    let mut cluster = cluster::Cluster::start(settings.log_dir.clone()).await;
    let setup = started.elapsed();

    let history = Arc::new(history::History::default());
    let stop_load = CancellationToken::new();
    let load = tokio::spawn(load::run(
        cluster.clients(),
        history.clone(),
        settings.seed.wrapping_add(1),
        stop_load.clone(),
    ));
    let mut rng = StdRng::seed_from_u64(settings.seed);
    let faults = driver::run(&mut cluster, &mut rng, settings.duration).await;
    stop_load.cancel();
    load.await.expect("the load ends");

    let verdict = checker::check(&mut cluster, &history, settings.quiet).await;
    let mut figures = Figures::new(
        &settings,
        faults,
        &history,
        verdict,
        (&cluster.unexpected_exits, &cluster.unclean_stops),
    );
    figures.setup = setup;
    figures.wall = started.elapsed();
    figures.print();
    cluster.stop().await;
    figures
}
