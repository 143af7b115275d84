//! Process statistics from `/proc`: CPU time (utime + stime, in clock ticks of 10 ms, for a
//! process of many threads: they cover every thread, exited ones included; the scheduler's
//! nanoseconds for PostgreSQL's backends, one thread each, whose share of an upload is a
//! fraction of a tick), resident memory (VmRSS, VmHWM), and the machine's busy time, so a
//! phase's CPU can be accounted to whoever spent it.

use std::{collections::BTreeMap, path::Path, time::Instant};

use anyhow::Context;
use serde_json::{Value, json};

use crate::stats::round;

/// `sysconf(_SC_CLK_TCK)`: 100 on every Linux architecture's user ABI.
const TICKS_PER_SEC: f64 = 100.0;

/// The pids of the system under test, as `bench/system.sh` recorded them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Services {
    pub ingest: u32,
    pub processor: u32,
    pub writer: u32,
    /// The system's own S3 server, when `bench/system.sh` started one; otherwise every
    /// process that [`is_s3_server`] counts as the S3 server.
    pub s3: Option<u32>,
}

impl Services {
    pub(crate) fn read(state: &Path) -> anyhow::Result<Self> {
        let pid = |name: &str| -> anyhow::Result<u32> {
            let path = state.join(format!("{name}.pid"));
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("{} (is the system started?)", path.display()))?;
            let pid: u32 = text.trim().parse().context("pid file")?;
            anyhow::ensure!(
                Path::new(&format!("/proc/{pid}")).exists(),
                "{name} (pid {pid}) is not running"
            );
            Ok(pid)
        };
        Ok(Self {
            ingest: pid("ingest")?,
            processor: pid("processor")?,
            writer: pid("result-writer")?,
            s3: pid("s3-server").ok(),
        })
    }
}

/// Whether a process name (`/proc/<pid>/comm`, cut at 15 characters) is an S3 server: the
/// workspace's `imagepipe-s3-server`, s3s-fs or MinIO.
pub(crate) fn is_s3_server(comm: &str) -> bool {
    matches!(comm, "imagepipe-s3-se" | "s3s-fs" | "minio")
}

const NANOS_PER_TICK: u64 = 1_000_000_000 / TICKS_PER_SEC as u64;

/// utime + stime of a process (all its threads), in nanoseconds of a tick's resolution.
pub(crate) fn cpu_ns(pid: u32) -> Option<u64> {
    cpu_ticks(pid).map(|ticks| ticks * NANOS_PER_TICK)
}

/// The CPU time of a process of one thread, in nanoseconds, from the scheduler's own account
/// (`/proc/<pid>/schedstat`, field 1: time on a CPU): exact where ticks are sampled, which
/// matters for PostgreSQL's backends, each of which spends well under a tick per upload.
fn single_thread_cpu_ns(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/schedstat")).ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// utime + stime of a process (all its threads), in ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Field 3 (state) is fields[0]; utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// A `/proc/{pid}/status` value in KiB (`VmRSS`, `VmHWM`, ...).
pub(crate) fn status_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let value = line.strip_prefix(key)?.strip_prefix(':')?;
        value.split_whitespace().next()?.parse().ok()
    })
}

pub(crate) fn mib(kib: Option<u64>) -> Value {
    kib.map_or(Value::Null, |k| json!(round(k as f64 / 1024.0)))
}

/// Reset a process's peak RSS (VmHWM) to its current RSS (Linux 4.0+; needs to own it or be
/// root). Only ever used on the system's own services.
pub(crate) fn reset_peak_rss(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// CPU ticks of the machine, summed over every CPU: busy, all, and of the busy time what
/// went to interrupts and softirqs (the loopback network's packet work lands there, on no
/// process) and to the hypervisor (steal).
#[derive(Debug, Clone, Copy, Default)]
struct MachineTicks {
    busy: u64,
    all: u64,
    irq: u64,
    steal: u64,
}

fn machine_ticks() -> Option<MachineTicks> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let all: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4)?;
    Some(MachineTicks {
        busy: all - idle,
        all,
        irq: v.get(5)? + v.get(6)?,
        steal: *v.get(7)?,
    })
}

/// Every process with its command name and command line.
fn processes() -> Vec<(u32, String, String)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|entry| {
        let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        Some((pid, comm.trim().to_owned(), cmdline))
    })
    .collect()
}

/// CPU nanoseconds by consumer at one moment.
#[derive(Debug, Clone)]
pub(crate) struct CpuSnapshot {
    at: Instant,
    groups: BTreeMap<&'static str, u64>,
    machine: MachineTicks,
}

/// Snapshot the services, this client, the shared servers they use (the S3 server, the
/// PostgreSQL backends connected to `database`, all of PostgreSQL, RabbitMQ) and the machine.
pub(crate) fn snapshot(services: Services, database: &str) -> CpuSnapshot {
    let mut groups = BTreeMap::new();
    let mut add = |name: &'static str, ticks: u64| *groups.entry(name).or_insert(0) += ticks;
    add("ingest", cpu_ns(services.ingest).unwrap_or(0));
    add("processor", cpu_ns(services.processor).unwrap_or(0));
    add("result_writer", cpu_ns(services.writer).unwrap_or(0));
    add("client", cpu_ns(std::process::id()).unwrap_or(0));
    if let Some(s3) = services.s3 {
        add("s3_server", cpu_ns(s3).unwrap_or(0));
    }
    let backend = format!(" {database} ");
    for (pid, comm, cmdline) in processes() {
        let ns = || cpu_ns(pid).unwrap_or(0);
        match comm.as_str() {
            name if is_s3_server(name) && services.s3.is_none() => add("s3_server", ns()),
            "beam.smp" => add("rabbitmq", ns()),
            "postgres" => {
                let t = single_thread_cpu_ns(pid).unwrap_or(0);
                add("postgres_all", t);
                if cmdline.starts_with("postgres: ") && cmdline.contains(&backend) {
                    add("postgres_bench_db", t);
                }
            }
            _ => {}
        }
    }
    CpuSnapshot {
        at: Instant::now(),
        groups,
        machine: machine_ticks().unwrap_or_default(),
    }
}

impl CpuSnapshot {
    /// CPU seconds spent by each consumer between `self` and `later`, the wall time, and the
    /// machine's busy seconds (of `cores × wall` available). `other` is what the machine spent
    /// outside the listed consumers, interrupts and steal: other users of the machine (another
    /// engineer's builds and tests), kernel threads.
    pub(crate) fn until(&self, later: &CpuSnapshot) -> Value {
        let secs = |ticks: u64| round(ticks as f64 / TICKS_PER_SEC);
        let ns_secs = |ns: u64| round(ns as f64 / 1e9);
        let mut out = serde_json::Map::new();
        let mut listed = 0;
        for (name, after) in &later.groups {
            let before = self.groups.get(name).copied().unwrap_or(0);
            let spent = after.saturating_sub(before);
            if *name != "postgres_bench_db" {
                listed += spent;
            }
            out.insert(format!("{name}_s"), json!(ns_secs(spent)));
        }
        let busy = later.machine.busy.saturating_sub(self.machine.busy);
        let all = later.machine.all.saturating_sub(self.machine.all);
        let irq = later.machine.irq.saturating_sub(self.machine.irq);
        let steal = later.machine.steal.saturating_sub(self.machine.steal);
        out.insert("machine_busy_s".into(), json!(secs(busy)));
        out.insert("machine_capacity_s".into(), json!(secs(all)));
        out.insert("irq_softirq_s".into(), json!(secs(irq)));
        out.insert("steal_s".into(), json!(secs(steal)));
        out.insert(
            "other_s".into(),
            json!(secs(
                busy.saturating_sub(listed / NANOS_PER_TICK + irq + steal)
            )),
        );
        out.insert(
            "wall_s".into(),
            json!(round(later.at.duration_since(self.at).as_secs_f64())),
        );
        Value::Object(out)
    }

    /// CPU nanoseconds of `group` from `self` until `later`.
    pub(crate) fn ns_until(&self, later: &CpuSnapshot, group: &str) -> u64 {
        let ns = |snapshot: &CpuSnapshot| snapshot.groups.get(group).copied().unwrap_or(0);
        ns(later).saturating_sub(ns(self))
    }
}

pub(crate) fn ns_to_ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// The 1, 5 and 15 minute load averages.
pub(crate) fn loadavg() -> Value {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let v: Vec<f64> = text
        .split_whitespace()
        .take(3)
        .filter_map(|f| f.parse().ok())
        .collect();
    json!(v)
}
