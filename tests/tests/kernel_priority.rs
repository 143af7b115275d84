//! The pixel work runs on the processor's own kernel threads at the lowest scheduling
//! priority (`SCHED_IDLE`, the default of `PROCESSOR_KERNEL_PRIORITY`), so that an API on the
//! same cores keeps its latency while they compute (docs/performance.md, latency isolation).

use std::time::Duration;

use imagepipe_tests::{Options, TestSystem, good_image};

/// `SCHED_IDLE` in `sched(7)`'s numbering, as `/proc` reports a thread's policy.
const SCHED_IDLE: u64 = 5;

/// Each thread of this process whose name starts with `prefix`: its policy and its CPU time
/// so far in clock ticks (`/proc/self/task/TID/stat`: fields 14 and 15, and 41).
fn threads_named(prefix: &str) -> Vec<(String, u64, u64)> {
    let mut threads = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").expect("/proc") {
        let dir = task.expect("a task").path();
        let Ok(comm) = std::fs::read_to_string(dir.join("comm")) else {
            continue; // the thread ended meanwhile
        };
        if !comm.starts_with(prefix) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(dir.join("stat")) else {
            continue;
        };
        // Fields after the name, which ends at the last ')': field 3 onward.
        let fields: Vec<u64> = stat[stat.rfind(')').expect("stat has a name") + 2..]
            .split(' ')
            .skip(1) // field 3, the state, is a letter
            .map(|field| field.trim().parse().unwrap_or(0))
            .collect();
        let field = |n: usize| fields[n - 4];
        threads.push((comm.trim().to_owned(), field(41), field(14) + field(15)));
    }
    threads
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pixel_work_runs_on_kernel_threads_at_idle_priority() {
    let system = TestSystem::start(Options {
        processing_delay_ms: 0,
        ..Options::default()
    })
    .await;
    // A large photograph, so that its decode and encode take measurable CPU time.
    let id = system
        .upload_accepted("photo-12mp.jpg", good_image("photo-12mp.jpg"))
        .await;
    let task = system.wait_terminal(id, Duration::from_secs(60)).await;
    assert_eq!(task["status"], "COMPLETED", "{task}");

    let kernel_threads = threads_named("kernel-");
    assert!(
        !kernel_threads.is_empty(),
        "the processor runs its kernel threads"
    );
    for (name, policy, _) in &kernel_threads {
        assert_eq!(*policy, SCHED_IDLE, "{name} runs at SCHED_IDLE");
    }
    assert!(
        kernel_threads.iter().any(|(_, _, cpu)| *cpu > 0),
        "the pixels were computed on the kernel threads: {kernel_threads:?}"
    );
}
