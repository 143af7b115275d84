//! Ports for listeners the harness cannot bind itself (the health endpoints of the processor
//! and the result-writer, which bind their configured address; a webhook receiver that must
//! come up later on a known port), handed out without a race.
//!
//! Binding port 0, reading the number and closing the socket before the service binds it
//! leaves a window in which anything else may take that port. Instead the ports come from
//! 20000..32000, below Linux's default ephemeral range (32768..60999,
//! `/proc/sys/net/ipv4/ip_local_port_range`), so the kernel never hands them to a port-0 bind
//! or an outgoing connection. A process-wide counter gives each port to one caller only; a
//! lock file per port (held until the process ends, released by the kernel even on a crash)
//! keeps two test processes running at once apart; and a port some other program listens on
//! is skipped.

use std::{
    fs::File,
    net::TcpListener,
    path::PathBuf,
    sync::{
        Mutex,
        atomic::{AtomicU16, Ordering},
    },
};

const FIRST: u16 = 20_000;
const END: u16 = 32_000;

static NEXT: AtomicU16 = AtomicU16::new(FIRST);
/// The lock files of the ports this process holds, open (so locked) until it exits.
static HELD: Mutex<Vec<File>> = Mutex::new(Vec::new());

/// A port on 127.0.0.1 that nobody listens on and no other caller, in this process or in
/// another test process, is given.
pub fn claim_port() -> u16 {
    loop {
        let port = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(
            port < END,
            "no test port left in {FIRST}..{END} (in use, or {} not writable)",
            lock_dir().display()
        );
        if let Some(lock) = lock(port)
            && TcpListener::bind(("127.0.0.1", port)).is_ok()
        {
            HELD.lock().expect("port locks").push(lock);
            return port;
        }
    }
}

/// The lock of `port` among test processes, if no other process holds it.
fn lock(port: u16) -> Option<File> {
    let dir = lock_dir();
    std::fs::create_dir_all(&dir).ok()?;
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(port.to_string()))
        .ok()?;
    file.try_lock().ok()?;
    Some(file)
}

fn lock_dir() -> PathBuf {
    std::env::temp_dir().join("imagepipe-test-ports")
}
