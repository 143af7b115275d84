//! The nemesis: every few seconds, one random fault (a service SIGKILLed or SIGTERMed and
//! started again, a dependency cut or black-holed through its proxy, the broker "restarted"),
//! held for a random while and healed, until the run's time is up. One fault at a time, so
//! each is healed before the next; every draw comes from the seeded RNG.

use std::{collections::BTreeMap, time::Duration};

use rand::{Rng, rngs::StdRng, seq::IndexedRandom};
use tokio::time::{Instant, sleep};

use super::{
    cluster::Cluster,
    faults::{Dependency, Fault},
};
use crate::FaultProxy;

/// The pause between one fault healed and the next, in milliseconds.
const GAP_MS: std::ops::Range<u64> = 2000..5000;
/// How long a killed or stopped service stays down before it is started again.
const DOWN_MS: std::ops::Range<u64> = 500..3000;
/// How long a cut or a black hole lasts.
const OUTAGE_MS: std::ops::Range<u64> = 1000..8000;
/// How long the broker is away in a restart.
const RESTART_MS: std::ops::Range<u64> = 300..1500;

/// How many faults of each kind were injected.
pub(crate) type FaultCounts = BTreeMap<String, u64>;

/// Inject faults for `duration`; when it returns, every fault is healed and every service
/// runs.
pub(crate) async fn run(
    cluster: &mut Cluster,
    rng: &mut StdRng,
    duration: Duration,
) -> FaultCounts {
    let kinds = Fault::kinds();
    let started = Instant::now();
    let mut counts = FaultCounts::new();
    loop {
        sleep(Duration::from_millis(rng.random_range(GAP_MS))).await;
        cluster.revive_crashed();
        if started.elapsed() >= duration {
            break;
        }
        let fault = *kinds.choose(rng).expect("kinds of fault");
        let target = inject(cluster, rng, fault).await;
        *counts.entry(fault.name()).or_default() += 1;
        eprintln!(
            "chaos: {:>6.1} s  {}{target}",
            started.elapsed().as_secs_f64(),
            fault.name()
        );
    }
    counts
}

/// Inject `fault` and heal it; which instance it hit, if any, as ` (service#i)`.
async fn inject(cluster: &mut Cluster, rng: &mut StdRng, fault: Fault) -> String {
    match fault {
        Fault::Kill(service) | Fault::Term(service) => {
            let i = *cluster
                .instances_of(service)
                .choose(rng)
                .expect("instances");
            let label = cluster.label(i);
            if matches!(fault, Fault::Kill(_)) {
                cluster.kill(i).await;
            } else {
                cluster.terminate(i).await;
            }
            sleep(Duration::from_millis(rng.random_range(DOWN_MS))).await;
            cluster.restart(i);
            format!(" ({label})")
        }
        Fault::Cut(dependency) => {
            let proxy = proxy(cluster, dependency);
            proxy.cut();
            sleep(Duration::from_millis(rng.random_range(OUTAGE_MS))).await;
            proxy.restore();
            String::new()
        }
        Fault::BlackHole(dependency) => {
            let proxy = proxy(cluster, dependency);
            proxy.black_hole();
            sleep(Duration::from_millis(rng.random_range(OUTAGE_MS))).await;
            proxy.restore();
            String::new()
        }
        Fault::BrokerRestart => {
            let proxy = proxy(cluster, Dependency::Broker);
            proxy.cut();
            sleep(Duration::from_millis(rng.random_range(RESTART_MS))).await;
            proxy.restore();
            String::new()
        }
    }
}

fn proxy(cluster: &Cluster, dependency: Dependency) -> &FaultProxy {
    let system = &cluster.system;
    match dependency {
        Dependency::ObjectStore => system.s3_proxy.as_ref(),
        Dependency::Broker => system.amqp_proxy.as_ref(),
        Dependency::Database => system.db_proxy.as_ref(),
    }
    .expect("the chaos system has every proxy")
}
