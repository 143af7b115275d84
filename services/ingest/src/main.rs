use clap::Parser;
use imagepipe_ingest::{Application, IngestConfig};
use imagepipe_shared::{shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = IngestConfig::parse();
    telemetry::init(&config.telemetry);
    let shutdown = shutdown::on_signal();
    match Application::build(config, &shutdown).await? {
        Some(app) => app.run(shutdown).await,
        None => Ok(()),
    }
}
