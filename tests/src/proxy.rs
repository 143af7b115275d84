//! A TCP proxy that can cut a dependency without touching the machine's shared services:
//! `cut` drops every open connection and refuses new ones until `restore`.
//!
//! To a service behind it, a cut looks like the server going away: connections reset, new
//! ones closed at once.

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
        let target = target.to_owned();
        let accept_loop = tokio::spawn({
            let up = up.clone();
            let cuts = cuts.clone();
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        drop(client);
                        continue;
                    }
                    let mut cut = cuts.subscribe();
                    let target = target.clone();
                    tokio::spawn(async move {
                        let Ok(mut server) = TcpStream::connect(&target).await else {
                            return;
                        };
                        let mut client = client;
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                            _ = cut.changed() => {}
                        }
                    });
                }
            }
        });
        Self {
            address,
            up,
            cuts,
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

    /// Accept and forward connections again.
    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.cut();
        self.accept_loop.abort();
    }
}

/// `scheme://host:port/rest` with host:port replaced by the proxy's.
pub(crate) fn through(url: &str, proxy: &FaultProxy) -> String {
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
        proxy.address()
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
