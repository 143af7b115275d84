//! A TCP proxy that can cut a dependency without touching the machine's shared services:
//! `cut` drops every open connection and refuses new ones until `restore`; `black_hole`
//! keeps every connection, open and new, but carries nothing either way until `restore`.
//!
//! To a service behind it, a cut looks like the server going away: connections reset, new
//! ones closed at once. A black hole looks like a server that accepts connections and never
//! answers (a network partition, a hung server): writes go into the socket's buffers, no
//! byte comes back, no error either. After `restore`, new connections get through; the held
//! ones stay dead (until a cut), like connections to a server that vanished.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
};

pub struct FaultProxy {
    address: SocketAddr,
    up: Arc<AtomicBool>,
    /// Bumped on every cut: open connections watch it and close.
    cuts: watch::Sender<u64>,
    /// While true, no connection carries anything.
    black_hole: watch::Sender<bool>,
    accept_loop: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Listen on a free local port and forward to `target` (`host:port`).
    pub async fn start(target: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let address = listener.local_addr().expect("proxy address");
        let up = Arc::new(AtomicBool::new(true));
        let (cuts, _) = watch::channel(0u64);
        let (black_hole, _) = watch::channel(false);
        let target = target.to_owned();
        let accept_loop = tokio::spawn({
            let up = up.clone();
            let cuts = cuts.clone();
            let black_hole = black_hole.clone();
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        drop(client);
                        continue;
                    }
                    tokio::spawn(forward(
                        client,
                        target.clone(),
                        cuts.subscribe(),
                        black_hole.subscribe(),
                    ));
                }
            }
        });
        Self {
            address,
            up,
            cuts,
            black_hole,
            accept_loop,
        }
    }

    /// `host:port` to give a service instead of the real server.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Drop every open connection and refuse new ones.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    /// Keep accepting connections, and keep the open ones, but carry nothing either way.
    pub fn black_hole(&self) {
        self.black_hole.send_replace(true);
    }

    /// Accept and forward new connections again.
    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
        self.black_hole.send_replace(false);
    }
}

/// Carry one client connection to `target` until either side closes or the proxy cuts it.
/// A connection open while the proxy is a black hole is held, answering nothing, until the
/// proxy cuts it, and its server side is closed: `restore` lets only new connections
/// through, as when a server vanished without a word (its sessions with it) and another came
/// up in its place.
async fn forward(
    mut client: TcpStream,
    target: String,
    mut cut: watch::Receiver<u64>,
    mut black_hole: watch::Receiver<bool>,
) {
    if !*black_hole.borrow_and_update() {
        let Ok(mut server) = TcpStream::connect(&target).await else {
            return;
        };
        tokio::select! {
            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => return,
            _ = cut.changed() => return,
            _ = black_hole.wait_for(|holed| *holed) => {}
        }
    }
    let _ = cut.changed().await;
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.cut();
        self.accept_loop.abort();
    }
}

/// `scheme://host:port/rest` with host:port replaced by a proxy's `address`.
pub(crate) fn through(url: &str, address: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let credentials = authority.rsplit_once('@').map(|(c, _)| format!("{c}@"));
    let path = if path.is_empty() {
        String::new()
    } else {
        format!("/{path}")
    };
    format!(
        "{scheme}://{}{}{path}",
        credentials.unwrap_or_default(),
        address
    )
}

/// `host:port` of a URL.
pub(crate) fn authority(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, a)| a)
        .to_owned()
}
