use clap::Parser;
use imagepipe_result_writer::{ResultWriterConfig, run};
use imagepipe_shared::{shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = ResultWriterConfig::parse();
    telemetry::init(&config.telemetry);
    run(config, shutdown::on_signal()).await
}
