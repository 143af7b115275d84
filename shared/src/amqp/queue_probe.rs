//! How many messages wait in a queue, read with a passive declare: cheap, and it never creates
//! anything.

use lapin::{options::QueueDeclareOptions, types::FieldTable};

use super::{Link, timed};
use crate::topology::Topology;

/// Reads queue depths over a link of its own, opened on first use and again after it broke.
/// It never waits for the broker: while the broker is away, depths are unknown (`None`).
pub struct QueueProbe {
    url: String,
    name: &'static str,
    topology: Topology,
    link: Option<Link>,
}

impl QueueProbe {
    pub fn new(url: impl Into<String>, name: &'static str, topology: Topology) -> Self {
        Self {
            url: url.into(),
            name,
            topology,
            link: None,
        }
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Messages ready in `queue`, or `None` if the broker cannot be asked now.
    pub async fn depth(&mut self, queue: &str) -> Option<u64> {
        if self.link.as_ref().is_none_or(|l| !l.is_usable()) {
            self.link = Link::open(&self.url, self.name, &self.topology).await.ok();
        }
        let link = self.link.as_ref()?;
        let declared = timed(link.channel.queue_declare(
            queue.into(),
            QueueDeclareOptions::default().passive(),
            FieldTable::default(),
        ))
        .await;
        match declared {
            Ok(declared) => Some(u64::from(declared.message_count())),
            Err(_) => {
                // A declare that timed out was on a connection gone silent, which still reads
                // as usable until its heartbeat runs out: open a new one next time. (A missing
                // queue closes the channel, which `is_usable` sees.)
                self.link = None;
                None
            }
        }
    }
}
