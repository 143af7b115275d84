use clap::Parser;
use imagepipe_processor::{ProcessorConfig, run};
use imagepipe_shared::{shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = ProcessorConfig::parse();
    telemetry::init(&config.telemetry);
    run(config, shutdown::on_signal()).await
}
