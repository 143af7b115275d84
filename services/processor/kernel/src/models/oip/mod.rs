//! Models on model servers speaking the Open Inference Protocol (KServe v2 REST:
//! `GET v2/models/{name}` for the metadata, `POST …/infer` with JSON tensors), the
//! `runtime = "oip"` of the models file. The image is made into the declared input on the
//! kernel pool like an in-process model's; the request itself is awaited on the async runtime,
//! holding no kernel thread, like the `delay` step.
//!
//! Before its first request, and again after any request failed to reach the server (a
//! reconnection), a model's metadata is read and checked against the declaration: a
//! contradiction stops the processor with a message naming the model, since every job for it
//! would be wrong. A server that cannot be reached is waited for in the background
//! ([`ServedModel::watch`], `retry::wait_for`), shown `degraded` by readiness meanwhile; the
//! processor goes on with every other job.

pub mod client;
mod metadata;
pub mod wire;

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use imagepipe_shared::{
    analysis::AnalysisEntry,
    models::{DeclaredModel, ModelServer},
    retry,
};
use tokio::sync::{Mutex, Notify};
use tokio_util::sync::CancellationToken;

use self::client::{ServerClient, ServerError};
use super::{preprocess::InputTensor, report};

/// Why a call to a model server did not give an analysis entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// Another attempt may succeed (`model_unavailable` once the retries are spent).
    #[error("{0}")]
    Unavailable(String),
    /// The server refused this input, or its outputs cannot be reported as declared
    /// (`inference_failed`).
    #[error("{0}")]
    Refused(String),
    /// The server's model is not the one declared: the processor stops.
    #[error("{0}")]
    Contradicts(String),
}

/// One declared model on its server.
pub struct ServedModel {
    spec: DeclaredModel,
    client: ServerClient,
    /// The server's metadata agreed with the declaration, and no request failed to reach it
    /// since.
    verified: AtomicBool,
    /// One metadata check at a time: the jobs that find the model unverified wait for it.
    checking: Mutex<()>,
    /// Woken when a request failed to reach the server: the watcher waits for it again.
    lost: Notify,
}

impl ServedModel {
    pub fn new(spec: DeclaredModel, server: ModelServer) -> Self {
        Self {
            spec,
            client: ServerClient::new(server),
            verified: AtomicBool::new(false),
            checking: Mutex::new(()),
            lost: Notify::new(),
        }
    }

    /// The declared name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn spec(&self) -> &DeclaredModel {
        &self.spec
    }

    /// Whether the server answered and agreed, and has not failed since (readiness).
    pub fn is_verified(&self) -> bool {
        self.verified.load(Ordering::Acquire)
    }

    /// For readiness: verified, and the server says the model is ready now. A server that
    /// stopped answering is waited for (and its metadata read) again.
    pub async fn probe(&self) -> bool {
        if !self.is_verified() {
            return false;
        }
        let ready = self.client.ready().await;
        if !ready {
            self.lost();
        }
        ready
    }

    /// The server may not be the one checked any more: read its metadata again before the
    /// next request, and have the watcher wait for it.
    fn lost(&self) {
        self.verified.store(false, Ordering::Release);
        self.lost.notify_one();
    }

    /// Read and check the model's metadata, unless that was done since the last failure.
    pub async fn verify(&self) -> Result<(), CallError> {
        if self.is_verified() {
            return Ok(());
        }
        let _one_at_a_time = self.checking.lock().await;
        if self.is_verified() {
            return Ok(());
        }
        let url = self.client.model_url();
        let found = self.client.metadata().await.map_err(|e| match e {
            ServerError::Unavailable(message) => CallError::Unavailable(self.failed(&message)),
            ServerError::Refused(message) => CallError::Contradicts(self.contradiction(&message)),
        })?;
        metadata::check(&self.spec, &found).map_err(|e| {
            CallError::Contradicts(self.contradiction(&format!("the server's model at {url}: {e}")))
        })?;
        self.verified.store(true, Ordering::Release);
        tracing::info!(model = self.spec.name, %url, "model server answers, its metadata agrees");
        Ok(())
    }

    fn contradiction(&self, message: &str) -> String {
        format!(
            "model `{}` (MODELS_FILE) does not match its server: {message}",
            self.spec.name
        )
    }

    /// Run the model on `input` (the image at chain step `step`, made into the declared
    /// input): its analysis entry.
    pub async fn infer(
        &self,
        input: &InputTensor,
        step: usize,
    ) -> Result<AnalysisEntry, CallError> {
        self.verify().await?;
        let outputs = self
            .client
            .infer(&self.spec.input.tensor, input)
            .await
            .map_err(|e| match e {
                ServerError::Unavailable(message) => {
                    self.lost();
                    CallError::Unavailable(self.failed(&message))
                }
                ServerError::Refused(message) => CallError::Refused(self.failed(&message)),
            })?;
        report::analysis_entry(&self.spec, step, outputs)
            .map_err(|message| CallError::Refused(self.failed(&message)))
    }

    fn failed(&self, message: &str) -> String {
        format!("model `{}`: {message}", self.spec.name)
    }

    /// Until `stop` fires: whenever the model is not verified, wait for its server (the
    /// dependency curve) and check it. A contradiction is returned: the caller stops the
    /// processor with it.
    pub async fn watch(self: Arc<Self>, stop: CancellationToken) -> Result<(), String> {
        let what = format!(
            "the model server of `{}` ({})",
            self.spec.name,
            self.client.model_url()
        );
        loop {
            if !self.is_verified() {
                let waited = retry::wait_for(
                    &what,
                    &stop,
                    |e| matches!(e, CallError::Contradicts(_)),
                    || self.verify(),
                )
                .await;
                match waited {
                    Ok(Some(())) => {}
                    Ok(None) => return Ok(()),
                    Err(err) => return Err(err.to_string()),
                }
            }
            tokio::select! {
                () = self.lost.notified() => {}
                () = stop.cancelled() => return Ok(()),
            }
        }
    }
}
