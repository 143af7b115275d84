//! The threads the pixel work runs on: a pool of the processor's own, its threads at the
//! lowest scheduling priority (`SCHED_IDLE`) unless `PROCESSOR_KERNEL_PRIORITY=normal`.
//!
//! Why a pool of its own and not tokio's blocking pool: a thread can lower its priority but,
//! without `CAP_SYS_NICE`, never raise it back, so the blocking pool's threads (which also
//! read files and resolve names for the async code) cannot be lent to the kernel at idle
//! priority and returned. These threads are idle-policy from their start and run nothing else.
//! Why a rayon pool: the kernel's own data parallelism (libblur's convolutions) runs on the
//! rayon pool of the thread that calls it, so it stays on these threads, at their priority,
//! instead of spilling onto rayon's global pool at normal priority.
//!
//! What idle priority buys: on a machine the processor shares with ingest (or anything else),
//! pixels take only the CPU time no normal thread wants, so the API is served first; on a
//! machine of its own the kernel still gets every cycle, since an idle-policy thread runs
//! whenever nothing else is runnable (measured: within 1%). What it does not buy, measured on
//! a 2-core VM: with every core busy, even with idle-policy work only, a woken API thread
//! still waits milliseconds (GET p99 0.7 → 4.2 ms beside two idle-policy busy loops, 0.7 ms
//! with one loop kept to one core), so on a shared machine the API keeps its latency only
//! with a core free of pixels: `PROCESSOR_KERNEL_CPUS` binds these threads to the CPUs it
//! lists (docs/performance.md, issue 16).

use std::{
    any::Any,
    panic::{AssertUnwindSafe, catch_unwind},
};

use thread_priority::{NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy};
use tokio::sync::{Semaphore, SemaphorePermit, oneshot};

mod cpus;

pub use cpus::{CpuList, CpuListError};

/// The scheduling policy of the kernel threads (`PROCESSOR_KERNEL_PRIORITY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KernelPriority {
    /// `SCHED_IDLE`: the pixels run on whatever CPU time nothing else wants.
    Idle,
    /// `SCHED_OTHER`, as every other thread: the pixels share the cores evenly with the API
    /// (for a processor on a machine of its own that wants no policy change at all).
    Normal,
}

/// Why a piece of pixel work has no result.
#[derive(Debug, thiserror::Error)]
pub enum KernelPoolError {
    #[error("the kernel pool is shut down")]
    Closed,
    #[error("image processing crashed: {0}")]
    Panicked(String),
}

/// `threads` kernel threads, and one slot per thread: work waits for a slot (holding no
/// thread and no decoded image), then runs at once on a free thread.
pub struct KernelPool {
    threads: rayon::ThreadPool,
    slots: Semaphore,
}

/// A held slot: the right to run one piece of work on the pool.
pub struct KernelSlot<'pool> {
    pool: &'pool KernelPool,
    _permit: SemaphorePermit<'pool>,
}

impl KernelPool {
    /// `cpus`: the CPUs the threads may run on (`PROCESSOR_KERNEL_CPUS`), all by default.
    pub fn new(
        threads: usize,
        priority: KernelPriority,
        cpus: Option<CpuList>,
    ) -> anyhow::Result<Self> {
        let threads = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|index| format!("kernel-{index}"))
            .start_handler(move |_| {
                if let Some(cpus) = &cpus {
                    bind_own_thread(cpus);
                }
                set_own_priority(priority);
            })
            .build()?;
        let slots = Semaphore::new(threads.current_num_threads());
        Ok(Self { threads, slots })
    }

    /// Wait for a free slot.
    pub async fn slot(&self) -> Result<KernelSlot<'_>, KernelPoolError> {
        let permit = self
            .slots
            .acquire()
            .await
            .map_err(|_| KernelPoolError::Closed)?;
        Ok(KernelSlot {
            pool: self,
            _permit: permit,
        })
    }
}

impl KernelSlot<'_> {
    /// Run `work` on a kernel thread and wait for its result. A panic in `work` is its
    /// error, never the process's: rayon would abort on it.
    pub async fn run<T, W>(self, work: W) -> Result<T, KernelPoolError>
    where
        T: Send + 'static,
        W: FnOnce() -> T + Send + 'static,
    {
        let (sender, receiver) = oneshot::channel();
        self.pool.threads.spawn(move || {
            // Nobody waiting any more (the job was dropped at shutdown) is no error here.
            let _ = sender.send(catch_unwind(AssertUnwindSafe(work)));
        });
        match receiver.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(panic)) => Err(KernelPoolError::Panicked(panic_message(&*panic))),
            Err(_) => Err(KernelPoolError::Closed),
        }
    }
}

/// Called on each kernel thread as it starts: it runs on `cpus` only, and so does every
/// thread it starts.
fn bind_own_thread(cpus: &CpuList) {
    if let Err(err) = cpus.bind_own_thread() {
        // Checked against the process's own CPUs at start (`CpuList::allowed`): only a change
        // of those since then gets here. The pixels still run, on any CPU.
        tracing::warn!(%err, %cpus, "cannot keep a kernel thread on PROCESSOR_KERNEL_CPUS");
    }
}

/// Called on each kernel thread as it starts: from then on, and for every thread it starts
/// (ONNX Runtime's, were it given any), the thread runs at `priority`.
fn set_own_priority(priority: KernelPriority) {
    let policy = match priority {
        KernelPriority::Idle => NormalThreadSchedulePolicy::Idle,
        KernelPriority::Normal => return,
    };
    let asked = thread_priority::unix::set_thread_priority_and_policy(
        thread_priority::unix::thread_native_id(),
        ThreadPriority::Min,
        ThreadSchedulePolicy::Normal(policy),
    );
    // The policy read back is the truth: the call also resets the nice value, which fails in a
    // process started under `nice` after the policy is set, and means nothing under SCHED_IDLE.
    if own_policy() != Some(ThreadSchedulePolicy::Normal(policy)) {
        // The pixels still run, at normal priority: a slower API beside them, never a lost job.
        tracing::warn!(
            ?asked,
            "cannot give a kernel thread idle priority; it runs at normal priority"
        );
    }
}

/// The calling thread's scheduling policy.
pub fn own_policy() -> Option<ThreadSchedulePolicy> {
    thread_priority::unix::thread_schedule_policy().ok()
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|message| (*message).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

#[cfg(test)]
mod tests;
