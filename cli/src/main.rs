//! `imagepipe`, the command-line client of imagepipe: submit images (files or folders) and
//! fetch their results, follow, list, cancel and retry tasks. See `imagepipe --help`.

// A command-line client's output is what it prints on stdout.
#![allow(clippy::print_stdout)]

mod api;
mod args;
mod chain;
mod commands;
mod inputs;
mod progress;
mod submit;

use std::process::ExitCode;

use clap::Parser;

use crate::{
    api::{ApiError, Client},
    args::{Cli, Command},
};

/// How a run ends, as its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// Everything asked for succeeded.
    Success = 0,
    /// Some of it did not (a file refused, a task FAILED, a task not found).
    SomeFailed = 1,
    /// Usage, or a setup nothing can succeed with: no server there, the key refused.
    Setup = 2,
}

fn main() -> ExitCode {
    // clap exits with 2 itself on a usage error.
    let cli = Cli::parse();
    let json = cli.json;
    let ran = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(run(cli)));
    match ran {
        Ok(exit) => ExitCode::from(exit as u8),
        Err(err) => {
            match err.downcast_ref::<ApiError>() {
                Some(api) => print_error(&api.code(), &api.detail(), api.status(), json),
                None => print_error("usage", &format!("{err:#}"), None, json),
            }
            ExitCode::from(Exit::Setup as u8)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<Exit> {
    let client = Client::new(&cli.url, cli.api_key)?;
    let json = cli.json;
    match cli.command {
        Command::Submit(args) => submit::run(args, &client, json).await,
        Command::Status(args) => commands::status(&client, args.id, json).await,
        Command::List(args) => commands::list(&client, &args, json).await,
        Command::Cancel(args) => commands::cancel(&client, args.id, json).await,
        Command::Retry(args) => commands::retry(&client, args.id, json).await,
    }
}

/// An error for people on stderr and, with --json, for scripts on stdout.
pub(crate) fn print_error(code: &str, message: &str, http_status: Option<u16>, json: bool) {
    let hint = match (code, http_status) {
        ("connection_error", _) => "\n  is the server running? (--url or IMAGEPIPE_URL)",
        (_, Some(401)) => "\n  give a valid key with --api-key or IMAGEPIPE_API_KEY",
        _ => "",
    };
    match http_status {
        Some(status) => eprintln!("imagepipe: {code} (HTTP {status}): {message}{hint}"),
        None => eprintln!("imagepipe: {code}: {message}{hint}"),
    }
    if json {
        println!("{}", commands::error_json(code, message, http_status));
    }
}
