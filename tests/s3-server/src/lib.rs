//! A real S3 server over a local folder, for development and the end-to-end tests: the
//! `s3s` protocol layer (SigV4 headers and presigned URLs, multipart uploads, S3's XML
//! errors) over the `s3s-fs` file-system store, served by hyper.
//!
//! Beyond stock `s3s-fs` it sets `TCP_NODELAY` on every connection and stops on SIGTERM as
//! well as Ctrl-C.

mod serve;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use s3s::auth::SimpleAuth;
use s3s::service::{S3Service, S3ServiceBuilder};
use tokio::net::TcpListener;

pub use serve::serve_until;

/// Where the server listens, what it serves and the one key pair it accepts.
///
/// The key variables are the ones the imagepipe services read, so one environment sets both
/// sides.
#[derive(Debug, Clone, clap::Parser)]
#[command(version, about)]
pub struct Settings {
    /// Address to listen on.
    #[arg(long, env = "S3_SERVER_BIND", default_value = "127.0.0.1:9000")]
    pub bind: SocketAddr,
    /// Folder holding the buckets (one subfolder each); created if missing.
    #[arg(long, env = "S3_SERVER_DATA", default_value = ".local/s3")]
    pub data: PathBuf,
    /// The access key every request must be signed with (SigV4).
    #[arg(long, env = "S3_ACCESS_KEY", default_value = "minioadmin")]
    pub access_key: String,
    /// The secret key of `access_key`.
    #[arg(
        long,
        env = "S3_SECRET_KEY",
        default_value = "minioadmin",
        hide_env_values = true
    )]
    pub secret_key: String,
}

/// The S3 service over `data`, refusing requests not signed with the given key pair.
pub fn service(settings: &Settings) -> anyhow::Result<S3Service> {
    std::fs::create_dir_all(&settings.data)
        .with_context(|| format!("creating {}", settings.data.display()))?;
    let store = s3s_fs::FileSystem::new(&settings.data)
        .map_err(|e| anyhow::anyhow!("opening {}: {e:?}", settings.data.display()))?;
    let mut builder = S3ServiceBuilder::new(store);
    builder.set_auth(SimpleAuth::from_single(
        settings.access_key.clone(),
        settings.secret_key.clone(),
    ));
    Ok(builder.build())
}

/// Serves until SIGTERM or Ctrl-C, then lets requests in flight finish.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let service = service(&settings)?;
    let listener = TcpListener::bind(settings.bind)
        .await
        .with_context(|| format!("binding {}", settings.bind))?;
    tracing::info!(
        address = %listener.local_addr()?,
        data = %settings.data.display(),
        "S3 server listening"
    );
    serve_until(listener, service, shutdown_signal()).await;
    tracing::info!("S3 server stopped");
    Ok(())
}

async fn shutdown_signal() {
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(err) => {
                tracing::warn!(%err, "cannot watch SIGTERM; only Ctrl-C stops the server");
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
    tokio::select! {
        _ = terminate.recv() => tracing::info!("SIGTERM: stopping"),
        _ = tokio::signal::ctrl_c() => tracing::info!("Ctrl-C: stopping"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn unsigned_requests_are_refused_and_shutdown_ends_serving() {
        let data = tempfile::tempdir().unwrap();
        let settings = Settings {
            bind: "127.0.0.1:0".parse().unwrap(),
            data: data.path().join("s3"),
            access_key: "key".into(),
            secret_key: "secret".into(),
        };
        let listener = TcpListener::bind(settings.bind).await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_until(listener, service(&settings).unwrap(), async {
            let _ = stopped.await;
        }));

        let mut client = tokio::net::TcpStream::connect(address).await.unwrap();
        client
            .write_all(b"GET /bucket/object HTTP/1.1\r\nHost: s3\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut response = String::new();
        client.read_to_string(&mut response).await.unwrap();
        assert!(response.starts_with("HTTP/1.1 403"), "{response}");
        assert!(
            data.path().join("s3").is_dir(),
            "the data folder is created"
        );

        stop.send(()).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(10), server)
            .await
            .expect("the server stops once shutdown completes")
            .unwrap();
    }
}
