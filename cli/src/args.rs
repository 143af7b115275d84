//! The command line, as clap reads it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use uuid::Uuid;

/// imagepipe's command-line client: submit images, follow their tasks, fetch the results.
///
/// Exit codes: 0 when everything asked for succeeded (every task COMPLETED with --wait,
/// every upload accepted without it); 1 when some of it did not (a file refused, a task
/// FAILED or CANCELLED, a task not found); 2 on a usage error, when the server cannot be
/// reached, or when it refuses the API key.
#[derive(Debug, Parser)]
#[command(name = "imagepipe", version)]
pub(crate) struct Cli {
    /// The imagepipe server (ingest's address).
    #[arg(
        long,
        global = true,
        env = "IMAGEPIPE_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub url: String,
    /// The API key, sent as `X-API-Key` (needed when the server has `API_KEYS`).
    #[arg(long, global = true, env = "IMAGEPIPE_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Machine output on stdout: one JSON object per line (see each command's help); no
    /// progress bar. Messages for people still go to stderr.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    Submit(SubmitArgs),
    /// Show a task: its status, its reason when FAILED, its result when COMPLETED.
    ///
    /// With --json, the task document as the server sent it, on one line.
    Status(IdArgs),
    List(ListArgs),
    /// Cancel a task that has not ended yet (exit 1 if it has).
    ///
    /// With --json, the task document (now CANCELLED) as the server sent it, on one line.
    Cancel(IdArgs),
    /// Queue a FAILED task again, as a new run (exit 1 if it is not FAILED).
    ///
    /// With --json, the server's answer ({"task_id", "status"}) on one line.
    Retry(IdArgs),
}

/// Upload images; with --wait, wait for their tasks and download the results.
///
/// Each upload carries an `Idempotency-Key` made from the file's bytes and the chain asked
/// for (the steps or the preset), so running the same command again (after an interruption,
/// a failure, Ctrl-C) within the server's IDEMPOTENCY_TTL_SECS (24 h by default) creates no
/// new tasks: the server answers with the task it made the first time.
///
/// With --json, one line per file as it settles: {"file", "task_id" (null when the upload
/// was refused), "status" (with --wait, the task's final status), "ok", "result" (with
/// --wait, the file written), "width", "height" (the result's), "error": {"code", "message",
/// "http_status"} or null}. Errors that end the whole run are one line {"error": {...}}.
#[derive(Debug, Args)]
pub(crate) struct SubmitArgs {
    /// Image files, or folders: a folder gives its image files (by extension: jpg, jpeg, png,
    /// webp, gif, bmp, tif, tiff), not those of its subfolders, skipping hidden files and
    /// earlier results (`*.result.*`). A file named directly is always sent: the server
    /// decides from its bytes whether it is an image.
    #[arg(required = true, value_name = "FILES")]
    pub files: Vec<PathBuf>,
    /// The chain of steps, as a JSON array, or `@FILE` to read it from a file, e.g.
    /// '[{"op":"resize","width":800},{"op":"encode","format":"webp"}]'.
    #[arg(long, conflicts_with = "preset", value_name = "JSON")]
    pub steps: Option<String>,
    /// A preset of the server instead of steps (`imagepipe` servers have `grayscale`,
    /// `thumbnail` and `web`). Without --steps or --preset: the server's default chain.
    #[arg(long, value_name = "NAME")]
    pub preset: Option<String>,
    /// Wait for every task to end, and download each result.
    #[arg(long)]
    pub wait: bool,
    /// Where results go (with --wait), as `{stem}.result.{ext}`; an input is never
    /// overwritten. Created if missing.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Uploads (and downloads) in flight at once.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
}

/// A task, by its id.
#[derive(Debug, Args)]
pub(crate) struct IdArgs {
    /// The task id (a UUID, as `submit` prints it).
    pub id: Uuid,
}

/// List tasks, newest first: one page, or every page with --all.
///
/// With --json, one line per page: the page document as the server sent it ({"tasks": [...],
/// "next_cursor"}); pass its `next_cursor` as --cursor for the next page.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only tasks with this status.
    #[arg(long, value_enum, ignore_case = true)]
    pub status: Option<StatusFilter>,
    /// Tasks per page (1 to 100; the server's default is 20).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub limit: Option<u32>,
    /// Start after this cursor (`next_cursor` of the previous page).
    #[arg(long, conflicts_with = "all")]
    pub cursor: Option<String>,
    /// Follow `next_cursor` to the last page.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
#[value(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum StatusFilter {
    Pending,
    Processing,
    Completed,
    Failed,
    Cancelled,
}

impl StatusFilter {
    pub(crate) fn as_api(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Processing => "PROCESSING",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn steps_and_preset_exclude_each_other() {
        let parsed = Cli::try_parse_from([
            "imagepipe",
            "submit",
            "a.png",
            "--steps",
            "[]",
            "--preset",
            "web",
        ]);
        assert!(parsed.is_err());
        let parsed = Cli::try_parse_from(["imagepipe", "list", "--status", "completed"]).unwrap();
        assert!(matches!(
            parsed.command,
            Command::List(ListArgs {
                status: Some(StatusFilter::Completed),
                ..
            })
        ));
    }
}
