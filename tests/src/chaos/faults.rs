//! The faults a chaos driver injects, and how they are named in the figures.

use super::cluster::Service;

/// A dependency behind its proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Dependency {
    ObjectStore,
    Broker,
    Database,
}

impl Dependency {
    pub(crate) const ALL: [Self; 3] = [Self::ObjectStore, Self::Broker, Self::Database];

    fn name(self) -> &'static str {
        match self {
            Self::ObjectStore => "object store",
            Self::Broker => "broker",
            Self::Database => "database",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Fault {
    /// SIGKILL one instance, then start it again.
    Kill(Service),
    /// SIGTERM one instance, wait for its exit, then start it again.
    Term(Service),
    /// Drop every connection to the dependency and refuse new ones for a while.
    Cut(Dependency),
    /// Hold every connection to the dependency, carrying nothing, for a while (a partition,
    /// a hung server); connections held stay dead after.
    BlackHole(Dependency),
    /// A broker restart as its clients see it: every connection dropped, new ones refused
    /// for a moment, then accepted again. The machine's RabbitMQ is shared with other tests,
    /// so the restart is emulated by a short cut of the broker's proxy.
    BrokerRestart,
}

impl Fault {
    /// Every kind of fault, each drawn equally often.
    pub(crate) fn kinds() -> Vec<Self> {
        let mut kinds = Vec::new();
        for service in Service::ALL {
            kinds.extend([Self::Kill(service), Self::Term(service)]);
        }
        for dependency in Dependency::ALL {
            kinds.extend([Self::Cut(dependency), Self::BlackHole(dependency)]);
        }
        kinds.push(Self::BrokerRestart);
        kinds
    }

    pub(crate) fn name(self) -> String {
        match self {
            Self::Kill(service) => format!("SIGKILL {}", service.name()),
            Self::Term(service) => format!("SIGTERM {}", service.name()),
            Self::Cut(dependency) => format!("cut {}", dependency.name()),
            Self::BlackHole(dependency) => format!("black hole {}", dependency.name()),
            Self::BrokerRestart => "broker restart".to_owned(),
        }
    }
}
