//! `status`, `list`, `cancel` and `retry`: one call each (a few for `list --all`), the
//! answer printed for people or, with --json, as the server sent it.

use serde_json::Value;
use uuid::Uuid;

use crate::{
    Exit,
    api::{ApiError, Client, Task, TaskView},
    args::ListArgs,
    print_error,
};

pub(crate) async fn status(client: &Client, id: Uuid, json: bool) -> anyhow::Result<Exit> {
    answer(client.task(id).await, json, |task| describe(&task.view))
}

pub(crate) async fn cancel(client: &Client, id: Uuid, json: bool) -> anyhow::Result<Exit> {
    answer(client.cancel(id).await, json, |task| {
        format!("task {} {}", task.view.task_id, task.view.status)
    })
}

pub(crate) async fn retry(client: &Client, id: Uuid, json: bool) -> anyhow::Result<Exit> {
    let queued = client.retry(id).await.map(|raw| Task {
        // The answer names the task; what it reads now is for `status`.
        view: TaskView {
            task_id: id,
            status: "PENDING".into(),
            original_filename: None,
            width: None,
            height: None,
            created_at: None,
            preset: None,
            error: None,
            result: None,
        },
        raw,
    });
    answer(queued, json, |_| {
        format!("task {id} queued again (a new run)")
    })
}

pub(crate) async fn list(client: &Client, args: &ListArgs, json: bool) -> anyhow::Result<Exit> {
    let status = args.status.map(|s| s.as_api());
    let mut cursor = args.cursor.clone();
    loop {
        let page = match client.list(status, args.limit, cursor.as_deref()).await {
            Ok(page) => page,
            Err(err) => return refused(err, json),
        };
        if json {
            println!("{}", page.raw);
        } else {
            for task in &page.tasks {
                println!("{}", list_line(&task.view));
            }
        }
        match page.next_cursor {
            Some(next) if args.all => cursor = Some(next),
            Some(next) => {
                if !json {
                    eprintln!("more: imagepipe list --cursor {next} (or --all)");
                }
                return Ok(Exit::Success);
            }
            None => return Ok(Exit::Success),
        }
    }
}

/// Print a task answer, or why there is none.
fn answer(
    answer: Result<Task, ApiError>,
    json: bool,
    human: impl FnOnce(&Task) -> String,
) -> anyhow::Result<Exit> {
    match answer {
        Ok(task) => {
            if json {
                println!("{}", task.raw);
            } else {
                println!("{}", human(&task));
            }
            Ok(Exit::Success)
        }
        Err(err) => refused(err, json),
    }
}

/// A refusal of this one request is the command's failure (exit 1); a server not there or a
/// key refused is the setup's (exit 2, in `main`).
fn refused(err: ApiError, json: bool) -> anyhow::Result<Exit> {
    if err.is_setup_problem() {
        return Err(err.into());
    }
    print_error(&err.code(), &err.detail(), err.status(), json);
    Ok(Exit::SomeFailed)
}

/// The lines `status` prints.
fn describe(task: &TaskView) -> String {
    let mut lines = vec![
        format!("task     {}", task.task_id),
        format!("status   {}", task.status),
    ];
    let size = size(task.width, task.height);
    if let Some(name) = &task.original_filename {
        lines.push(format!("file     {name}{size}"));
    }
    if let Some(created) = &task.created_at {
        lines.push(format!("created  {created}"));
    }
    if let Some(preset) = &task.preset {
        lines.push(format!("preset   {preset}"));
    }
    if let Some(error) = &task.error {
        lines.push(format!("error    {}: {}", error.code, error.message));
    }
    if let Some(result) = &task.result {
        let kind = result.content_type.clone().unwrap_or_default();
        lines.push(format!(
            "result   {kind}{} (imagepipe submit --wait fetches it)",
            size_of(result.width, result.height)
        ));
    }
    lines.join("\n")
}

fn list_line(task: &TaskView) -> String {
    format!(
        "{}  {:<10}  {:<11}  {}  {}",
        task.task_id,
        task.status,
        size_of(task.width, task.height).trim(),
        task.created_at.as_deref().unwrap_or("-"),
        task.original_filename.as_deref().unwrap_or("-"),
    )
}

fn size(width: Option<i64>, height: Option<i64>) -> String {
    match (width, height) {
        (Some(w), Some(h)) => format!(" ({w}x{h})"),
        _ => String::new(),
    }
}

fn size_of(width: Option<i64>, height: Option<i64>) -> String {
    match (width, height) {
        (Some(w), Some(h)) => format!(" {w}x{h}"),
        _ => String::new(),
    }
}

/// What `--json` prints of an error: the same shape everywhere.
pub(crate) fn error_json(code: &str, message: &str, http_status: Option<u16>) -> Value {
    serde_json::json!({"error": {"code": code, "message": message, "http_status": http_status}})
}
