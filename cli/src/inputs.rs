//! Which files a `submit` sends: the files named, and the images of the folders named.

use std::{
    collections::HashSet,
    path::{Path, PathBuf},
};

use anyhow::Context;

/// Extensions of the formats the server accepts, as a folder's images are told apart.
const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff"];

/// One file to upload.
#[derive(Debug, Clone)]
pub(crate) struct Input {
    /// As the user named it (or its folder joined with its name): what messages show.
    pub path: PathBuf,
    /// The same file, resolved: what results are compared with, so none overwrites it.
    pub canonical: PathBuf,
}

impl Input {
    /// The name sent to the server (metadata only).
    pub(crate) fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "upload".to_owned())
    }
}

/// The files of `args`, each once, in the order given (a folder's sorted by name). A path
/// that does not exist, or a run with no file at all, is a usage error.
pub(crate) fn collect(args: &[PathBuf]) -> anyhow::Result<Vec<Input>> {
    let mut seen = HashSet::new();
    let mut inputs = Vec::new();
    for arg in args {
        let metadata =
            std::fs::metadata(arg).with_context(|| format!("cannot read {}", arg.display()))?;
        let files = if metadata.is_dir() {
            folder_images(arg)?
        } else {
            vec![arg.clone()]
        };
        for path in files {
            let canonical = std::fs::canonicalize(&path)
                .with_context(|| format!("cannot resolve {}", path.display()))?;
            if seen.insert(canonical.clone()) {
                inputs.push(Input { path, canonical });
            }
        }
    }
    anyhow::ensure!(
        !inputs.is_empty(),
        "no image files in {} (a folder gives its .jpg, .jpeg, .png, .webp, .gif, .bmp, .tif and .tiff files)",
        args.iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(inputs)
}

/// A folder's image files, not its subfolders'; hidden files and earlier results skipped,
/// so that `submit . --wait` run twice does not send its own results.
fn folder_images(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let path = entry.path();
        if path.is_file() && is_image_name(&path) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn is_image_name(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let is_result = path
        .file_stem()
        .and_then(|s| s.to_str())
        .is_some_and(|stem| stem.ends_with(".result"));
    !name.starts_with('.')
        && !is_result
        && extension.is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_gives_its_images_but_not_hidden_files_results_or_subfolders() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "b.PNG",
            "a.jpg",
            ".hidden.png",
            "notes.txt",
            "a.result.png",
            "c.webp",
        ] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/d.png"), b"x").unwrap();
        let named = dir.path().join("notes.txt");

        let inputs = collect(&[
            dir.path().to_path_buf(),
            named.clone(),
            dir.path().join("a.jpg"),
        ])
        .unwrap();
        let names: Vec<_> = inputs.iter().map(Input::file_name).collect();
        assert_eq!(
            names,
            ["a.jpg", "b.PNG", "c.webp", "notes.txt"],
            "named files always go, each once"
        );
    }

    #[test]
    fn a_missing_path_or_no_image_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(collect(&[dir.path().join("missing.png")]).is_err());
        assert!(collect(&[dir.path().to_path_buf()]).is_err());
    }
}
