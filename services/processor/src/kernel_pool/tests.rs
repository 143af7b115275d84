use rayon::prelude::*;
use thread_priority::{NormalThreadSchedulePolicy, ThreadSchedulePolicy};

use super::*;

const IDLE: ThreadSchedulePolicy = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
const OTHER: ThreadSchedulePolicy = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Other);

/// What `probe` reads on the work's own kernel thread and on the threads its rayon
/// parallelism lands on (as libblur's does).
async fn seen_on_pool<T: Send + 'static>(pool: &KernelPool, probe: fn() -> T) -> Vec<T> {
    pool.slot()
        .await
        .expect("open pool")
        .run(move || {
            let mut seen: Vec<T> = (0..256).into_par_iter().map(|_| probe()).collect();
            seen.push(probe());
            seen
        })
        .await
        .expect("no panic")
}

fn own_cpus() -> CpuList {
    CpuList::of_own_thread().expect("affinity")
}

#[tokio::test]
async fn idle_kernel_threads_and_their_parallel_work_run_at_sched_idle() {
    let pool = KernelPool::new(2, KernelPriority::Idle, None).expect("pool");
    let policies = seen_on_pool(&pool, own_policy).await;
    assert!(
        policies.iter().all(|policy| *policy == Some(IDLE)),
        "{policies:?}"
    );
    // The caller's thread is left as it was.
    assert_eq!(own_policy(), Some(OTHER));
}

#[tokio::test]
async fn normal_kernel_threads_keep_the_default_policy() {
    let pool = KernelPool::new(2, KernelPriority::Normal, None).expect("pool");
    let policies = seen_on_pool(&pool, own_policy).await;
    assert!(
        policies.iter().all(|policy| *policy == Some(OTHER)),
        "{policies:?}"
    );
}

#[tokio::test]
async fn a_panic_is_the_works_error_and_the_pool_goes_on() {
    let pool = KernelPool::new(1, KernelPriority::Idle, None).expect("pool");
    let slot = pool.slot().await.expect("open pool");
    let err = slot
        .run(|| -> u32 { panic!("decoder bug on purpose") })
        .await
        .expect_err("a panic is an error");
    assert_eq!(
        err.to_string(),
        "image processing crashed: decoder bug on purpose"
    );
    let slot = pool.slot().await.expect("the slot came back");
    assert_eq!(slot.run(|| 41 + 1).await.expect("still runs"), 42);
}

#[tokio::test]
async fn work_waits_for_a_slot_when_every_thread_is_taken() {
    let pool = KernelPool::new(1, KernelPriority::Normal, None).expect("pool");
    let held = pool.slot().await.expect("open pool");
    let second = tokio::time::timeout(std::time::Duration::from_millis(100), pool.slot()).await;
    assert!(second.is_err(), "a second slot while the only one is held");
    drop(held);
    tokio::time::timeout(std::time::Duration::from_secs(5), pool.slot())
        .await
        .expect("the freed slot")
        .expect("open pool");
}

#[tokio::test]
async fn kernel_threads_and_their_parallel_work_stay_on_their_cpus() {
    let own = own_cpus();
    let first: CpuList = own
        .to_string()
        .split(',')
        .next()
        .expect("a CPU")
        .parse()
        .expect("list");
    let pool = KernelPool::new(2, KernelPriority::Idle, Some(first.clone())).expect("pool");
    let cpus = seen_on_pool(&pool, own_cpus).await;
    assert!(
        cpus.iter().all(|on| *on == first),
        "{cpus:?} against {first}"
    );
    // The caller's thread keeps its CPUs.
    assert_eq!(own_cpus(), own);
}
