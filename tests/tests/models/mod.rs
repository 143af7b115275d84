//! Models are steps: the shipped face detector and the operator's own models (`infer`)
//! through the whole system, and the model files a processor refuses at start.

mod faces;
pub(crate) mod infer;
pub(crate) mod model_server;
mod startup;

use std::time::Duration;

use imagepipe_tests::ServiceProcess;

/// Run a processor with `args` that must refuse to start: its log (text), which says why.
async fn refusal(args: &[String]) -> String {
    let (code, stderr) = ServiceProcess::run_to_exit(
        "imagepipe-processor",
        args,
        &[("LOG_FORMAT", "text".to_owned())],
        Duration::from_secs(30),
    )
    .await;
    assert!(
        code.is_some_and(|c| c != 0),
        "the processor started anyway ({code:?}): {stderr}"
    );
    stderr
}
