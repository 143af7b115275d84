use clap::Parser;
use imagepipe_ingest::{Application, IngestConfig};
use imagepipe_shared::{shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = IngestConfig::parse();
    telemetry::init(&config.telemetry);
    let shutdown = shutdown::on_signal();
    Application::build(config).await?.run(shutdown).await
}
