//! The accept loop: one hyper connection (HTTP/1.1 or HTTP/2) per client, `TCP_NODELAY` on.

use std::future::Future;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use s3s::service::S3Service;
use tokio::net::TcpListener;

/// How long requests in flight may take to finish once shutdown begins.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves S3 on `listener` until `shutdown` completes, then drains open connections.
pub async fn serve_until(
    listener: TcpListener,
    service: S3Service,
    shutdown: impl Future<Output = ()>,
) {
    let http = Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    // Per-connection failures (e.g. the client reset before accept, or out
                    // of file descriptors for a moment): keep serving the others.
                    tracing::warn!(%err, "accept failed");
                    continue;
                }
            },
            () = shutdown.as_mut() => break,
        };
        // Without it, a response's last small segment waits for the client's delayed ACK
        // (Nagle's algorithm): about 40 ms added to every GET on loopback.
        if let Err(err) = stream.set_nodelay(true) {
            tracing::warn!(%err, "cannot set TCP_NODELAY");
        }
        let connection = http.serve_connection(TokioIo::new(stream), service.clone());
        let connection = graceful.watch(connection.into_owned());
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(%err, "connection ended with an error");
            }
        });
    }
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after {DRAIN_TIMEOUT:?}; stopping anyway");
    }
}
