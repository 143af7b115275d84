//! `imagepipe submit`: upload files with bounded concurrency, and with --wait follow each
//! task to its end and download its result. Every file is settled on its own (one refused
//! upload does not stop the others); the summary at the end says which did not make it.

mod download;
mod outcome;
mod upload;
mod wait;

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use futures::{StreamExt, stream::FuturesUnordered};
use tokio::sync::Semaphore;

use self::{
    download::ResultPaths,
    outcome::{Failure, Outcome},
};
use crate::{
    Exit,
    api::Client,
    args::SubmitArgs,
    chain::Chain,
    inputs::{self, Input},
    progress::Progress,
};

/// Task reads in flight at once while waiting, whatever the number of files.
const POLLS_IN_FLIGHT: usize = 8;
/// Attempts of one download, the first included.
const DOWNLOAD_ATTEMPTS: u32 = 3;

/// What every file's work shares.
struct Run<'a> {
    client: &'a Client,
    chain: Chain,
    progress: Progress,
    /// Uploads and downloads in flight (`--concurrency`).
    transfers: Semaphore,
    polls: Semaphore,
    /// With --wait: where results go.
    results: Option<ResultPaths>,
    uploaded: AtomicU64,
}

pub(crate) async fn run(args: SubmitArgs, client: &Client, json: bool) -> anyhow::Result<Exit> {
    let inputs = inputs::collect(&args.files)?;
    let chain = Chain::from_args(args.steps.as_deref(), args.preset.as_deref())?;
    let results = args
        .wait
        .then(|| ResultPaths::new(&args.out, &inputs))
        .transpose()?;
    // One cheap read first: a server that is not there, or refuses the key, is told once,
    // not once per file.
    if let Err(err) = client.list(None, Some(1), None).await
        && err.is_setup_problem()
    {
        return Err(err.into());
    }

    let total_bytes = inputs
        .iter()
        .filter_map(|i| std::fs::metadata(&i.path).ok())
        .map(|m| m.len())
        .sum();
    let run = Run {
        client,
        chain,
        progress: Progress::new(!json, total_bytes, inputs.len() as u64, args.wait),
        transfers: Semaphore::new(usize::from(args.concurrency)),
        polls: Semaphore::new(POLLS_IN_FLIGHT),
        results,
        uploaded: AtomicU64::new(0),
    };
    let mut pending: FuturesUnordered<_> = inputs.into_iter().map(|i| run.one(i)).collect();
    let mut outcomes = Vec::new();
    while let Some(outcome) = pending.next().await {
        if json {
            run.progress.print(&outcome.to_json().to_string());
        } else {
            run.progress.print(&outcome.to_line());
        }
        outcomes.push(outcome);
    }
    run.progress.finish();
    eprintln!("{}", outcome::summary(&outcomes, args.wait));

    let failures = || outcomes.iter().filter_map(|o| o.failure.as_ref());
    Ok(if failures().any(|f| f.setup) {
        Exit::Setup
    } else if failures().next().is_some() {
        Exit::SomeFailed
    } else {
        Exit::Success
    })
}

impl Run<'_> {
    /// Everything for one file: upload, and with --wait, wait and download.
    async fn one(&self, input: Input) -> Outcome {
        let outcome = Outcome::new(input.path.clone());
        let uploaded = {
            let _permit = self.transfers.acquire().await;
            upload::upload(self.client, &input, &self.chain, &self.progress).await
        };
        self.progress
            .uploaded(self.uploaded.fetch_add(1, Ordering::Relaxed) + 1);
        let id = match uploaded {
            Ok(id) => id,
            Err(failure) => {
                self.progress.ended();
                return outcome.failed(failure);
            }
        };
        let mut outcome = Outcome {
            task_id: Some(id),
            ..outcome
        };
        let Some(results) = &self.results else {
            return outcome;
        };

        let ended = wait::until_ended(self.client, id, &self.polls).await;
        self.progress.ended();
        let task = match ended {
            Ok(task) => task,
            Err(err) => return outcome.failed(err),
        };
        outcome.status = Some(task.view.status.clone());
        match task.view.status.as_str() {
            "COMPLETED" => {}
            "FAILED" => {
                let error = task
                    .view
                    .error
                    .clone()
                    .unwrap_or_else(|| crate::api::TaskError {
                        code: "failed".into(),
                        message: "the task failed without a reason".into(),
                    });
                return outcome.failed(Failure::new(&error.code, error.message));
            }
            _ => {
                return outcome.failed(Failure::new(
                    "cancelled",
                    "the task was cancelled before it ended",
                ));
            }
        }
        if let Some(result) = &task.view.result {
            outcome.size = result.width.zip(result.height);
        }
        let downloaded = {
            let _permit = self.transfers.acquire().await;
            let mut attempt = 1;
            loop {
                match download::download(self.client, &task, &input, results).await {
                    // A moment's trouble: the result is still there, fetch it again.
                    Err(failure) if failure.is_transient() && attempt < DOWNLOAD_ATTEMPTS => {
                        tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
                        attempt += 1;
                    }
                    downloaded => break downloaded,
                }
            }
        };
        match downloaded {
            Ok(path) => {
                outcome.result = Some(path);
                outcome
            }
            Err(failure) => outcome.failed(failure),
        }
    }
}
