//! The development and test S3 server: `imagepipe-s3-server --help`.

use std::io::IsTerminal;

use clap::Parser;
use imagepipe_s3_server::Settings;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    imagepipe_s3_server::run(Settings::parse()).await
}
