//! Writing a task's result as `{stem}.result.{ext}` in the output folder: never over an
//! input, never two results of one run on the same name, and never a half-written file under
//! the result's name (the bytes go to a temporary file first, renamed once complete).

use std::{
    collections::{HashMap, HashSet},
    ffi::OsString,
    path::{Path, PathBuf},
    sync::Mutex,
};

use anyhow::Context;
use futures::StreamExt;
use reqwest::header;
use tokio::io::AsyncWriteExt;

use super::outcome::Failure;
use crate::{
    api::{ApiError, Client, Task},
    inputs::Input,
};

/// The names results may take in one run.
pub(crate) struct ResultPaths {
    /// As the user gave it, for messages.
    out: PathBuf,
    canonical_out: PathBuf,
    inputs: HashSet<PathBuf>,
    /// Results written or being written, by the input they are the result of.
    taken: Mutex<HashMap<PathBuf, PathBuf>>,
}

impl ResultPaths {
    /// Creates the output folder if it is missing.
    pub(crate) fn new(out: &Path, inputs: &[Input]) -> anyhow::Result<Self> {
        std::fs::create_dir_all(out)
            .with_context(|| format!("cannot create the output folder {}", out.display()))?;
        let canonical_out = std::fs::canonicalize(out)
            .with_context(|| format!("cannot resolve the output folder {}", out.display()))?;
        Ok(Self {
            out: out.to_owned(),
            canonical_out,
            inputs: inputs.iter().map(|i| i.canonical.clone()).collect(),
            taken: Mutex::new(HashMap::new()),
        })
    }

    /// The path of `input`'s result with extension `ext`, reserved for it; or why it cannot
    /// be written.
    fn claim(&self, input: &Input, ext: &str) -> Result<PathBuf, Failure> {
        let mut name = input
            .path
            .file_stem()
            .map(OsString::from)
            .unwrap_or_else(|| OsString::from("upload"));
        name.push(format!(".result.{ext}"));
        let shown = self.out.join(&name);
        let target = self.canonical_out.join(&name);
        // A link at the result's name may lead to an input.
        let resolved = std::fs::canonicalize(&target).unwrap_or_else(|_| target.clone());
        if self.inputs.contains(&target) || self.inputs.contains(&resolved) {
            return Err(Failure::new(
                "result_would_overwrite_input",
                format!(
                    "the result's name {} is an input file; not written (choose another --out)",
                    shown.display()
                ),
            ));
        }
        let mut taken = self
            .taken
            .lock()
            .map_err(|_| Failure::new("internal_error", "result names poisoned"))?;
        match taken.get(&target) {
            Some(other) if other != &input.canonical => Err(Failure::new(
                "result_name_taken",
                format!(
                    "{} is the result of {} in this run; not overwritten (the inputs share a name)",
                    shown.display(),
                    other.display()
                ),
            )),
            _ => {
                taken.insert(target, input.canonical.clone());
                Ok(shown)
            }
        }
    }
}

/// Download the result of the COMPLETED `task` of `input` through `GET
/// /api/v1/tasks/{id}/result`; the path written.
pub(crate) async fn download(
    client: &Client,
    task: &Task,
    input: &Input,
    paths: &ResultPaths,
) -> Result<PathBuf, Failure> {
    let id = task.view.task_id;
    let response = client.result(id).await?;
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| task.view.result.as_ref()?.content_type.clone())
        .unwrap_or_default();
    let ext = extension(&content_type).ok_or_else(|| {
        Failure::new(
            "unexpected_result_type",
            format!("the result's type {content_type:?} is not an image type this client knows"),
        )
    })?;
    let path = paths.claim(input, ext)?;
    let expected = response.content_length();
    let partial = partial_path(&path, id);
    let written = write(response, &partial).await;
    let written = match written {
        Ok(n) if expected.is_none_or(|e| e == n) => Ok(()),
        Ok(n) => Err(Failure::new(
            "download_failed",
            format!("got {n} bytes of {}", expected.unwrap_or_default()),
        )),
        Err(failure) => Err(failure),
    };
    let renamed = match written {
        Ok(()) => tokio::fs::rename(&partial, &path).await.map_err(|e| {
            Failure::new(
                "write_failed",
                format!("cannot write {}: {e}", path.display()),
            )
        }),
        Err(failure) => Err(failure),
    };
    if renamed.is_err() {
        // Best effort: a leftover only takes space, the result's own name is never touched.
        let _ = tokio::fs::remove_file(&partial).await;
    }
    renamed.map(|()| path)
}

/// Beside the result, hidden, one per task.
fn partial_path(path: &Path, id: uuid::Uuid) -> PathBuf {
    let mut name = OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!(".{id}.part"));
    path.with_file_name(name)
}

/// Stream the body to `path`; the bytes written.
async fn write(response: reqwest::Response, path: &Path) -> Result<u64, Failure> {
    let fail = |e: std::io::Error| {
        Failure::new(
            "write_failed",
            format!("cannot write {}: {e}", path.display()),
        )
    };
    let mut file = tokio::fs::File::create(path).await.map_err(fail)?;
    let mut body = response.bytes_stream();
    let mut written = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| Failure::from(ApiError::Unreachable(e)))?;
        file.write_all(&chunk).await.map_err(fail)?;
        written += chunk.len() as u64;
    }
    file.flush().await.map_err(fail)?;
    file.sync_all().await.map_err(fail)?;
    Ok(written)
}

/// The extension of a result of this media type (parameters ignored).
fn extension(content_type: &str) -> Option<&'static str> {
    let essence = content_type.split(';').next()?.trim().to_ascii_lowercase();
    match essence.as_str() {
        "image/jpeg" => Some("jpg"),
        "image/png" => Some("png"),
        "image/webp" => Some("webp"),
        "image/avif" => Some("avif"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(path: &Path) -> Input {
        Input {
            path: path.to_owned(),
            canonical: std::fs::canonicalize(path).unwrap(),
        }
    }

    #[test]
    fn a_result_never_takes_an_input_or_another_result_name() {
        let dir = tempfile::tempdir().unwrap();
        let a_png = dir.path().join("a.png");
        let a_gif = dir.path().join("a.gif");
        // An input that is itself named like a result of `a` (named on the command line).
        let a_result = dir.path().join("a.result.jpg");
        for path in [&a_png, &a_gif, &a_result] {
            std::fs::write(path, b"x").unwrap();
        }
        let inputs = [input(&a_png), input(&a_gif), input(&a_result)];
        let paths = ResultPaths::new(dir.path(), &inputs).unwrap();

        assert_eq!(
            paths.claim(&inputs[0], "png").unwrap(),
            dir.path().join("a.result.png")
        );
        assert_eq!(
            paths.claim(&inputs[0], "png").unwrap(),
            dir.path().join("a.result.png"),
            "its own again"
        );
        assert_eq!(
            paths.claim(&inputs[1], "png").unwrap_err().code,
            "result_name_taken"
        );
        assert_eq!(
            paths.claim(&inputs[1], "jpg").unwrap_err().code,
            "result_would_overwrite_input"
        );
    }

    #[test]
    fn result_extensions_follow_the_content_type() {
        assert_eq!(extension("image/jpeg"), Some("jpg"));
        assert_eq!(extension("IMAGE/PNG; charset=binary"), Some("png"));
        assert_eq!(extension("image/avif"), Some("avif"));
        assert_eq!(extension("text/html"), None);
    }
}
