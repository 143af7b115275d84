//! Everything the services log, captured for a test to read: every level, every target, with
//! the fields of the spans around each event, as the pretty log writes them.
//!
//! The capture is the current thread's default subscriber, so it sees what runs on this
//! thread: in a `#[tokio::test]` on the current-thread runtime (the default flavour), that is
//! the whole in-process system (its servers, pools and loops are tasks of that runtime), but
//! not what other tests running at the same time log, nor work moved to `spawn_blocking`.

use std::{
    io,
    sync::{Arc, Mutex, OnceLock, PoisonError},
};

use tracing::{
    Dispatch,
    subscriber::{DefaultGuard, NoSubscriber},
};
use tracing_subscriber::{fmt, prelude::*};

/// The lines written since [`CapturedLogs::start`].
#[derive(Clone, Default)]
pub struct CapturedLogs {
    bytes: Arc<Mutex<Vec<u8>>>,
}

impl CapturedLogs {
    /// Capture from now until the guard is dropped. Start it before the system, so that its
    /// start-up is captured too.
    pub fn start() -> (Self, DefaultGuard) {
        // With a single subscriber registered anywhere, tracing takes it for the global one:
        // a callsite first reached on another thread (another test's ingest) would cache that
        // thread's "nobody listens" for every thread, and this capture would miss its events.
        // A second, silent subscriber, alive for the whole run, makes tracing ask each
        // thread's own subscriber every time.
        static SILENT: OnceLock<Dispatch> = OnceLock::new();
        SILENT.get_or_init(|| Dispatch::new(NoSubscriber::default()));
        let logs = Self::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::registry().with(
            fmt::layer()
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .with_filter(tracing_subscriber::filter::LevelFilter::TRACE),
        );
        let guard = tracing::subscriber::set_default(subscriber);
        (logs, guard)
    }

    pub fn text(&self) -> String {
        let bytes = self.bytes.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
