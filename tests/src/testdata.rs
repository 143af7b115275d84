//! The test files beside the repository, in `<shared>/testdata`: photographs in `good/`,
//! hostile files in `bad/`. `<shared>` is the folder named by `IMAGEPIPE_SHARED_DIR`, by
//! default `shared` beside the repository (`<repository>/../shared`); it is required.

use std::path::PathBuf;

/// The folder of data shared beside the repository: `IMAGEPIPE_SHARED_DIR`, or
/// `<repository>/../shared`.
pub fn shared_dir() -> PathBuf {
    std::env::var_os("IMAGEPIPE_SHARED_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
        PathBuf::from,
    )
}

/// A file from `<shared>/testdata`, e.g. `good/logo.png`.
pub fn testdata(relative: &str) -> PathBuf {
    shared_dir().join("testdata").join(relative)
}

/// All files in a `<shared>/testdata` folder, sorted.
pub fn testdata_files(folder: &str) -> Vec<PathBuf> {
    let dir = testdata(folder);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{} (set IMAGEPIPE_SHARED_DIR?): {e}", dir.display()))
        .map(|entry| entry.expect("readable directory entry").path())
        .collect();
    files.sort();
    files
}

/// The bytes of a test photograph, `<shared>/testdata/good/{name}`.
pub fn good_image(name: &str) -> Vec<u8> {
    read(&format!("good/{name}"))
}

/// The bytes of a hostile test file, `<shared>/testdata/bad/{name}`.
pub fn bad_file(name: &str) -> Vec<u8> {
    read(&format!("bad/{name}"))
}

fn read(relative: &str) -> Vec<u8> {
    let path = testdata(relative);
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{} (set IMAGEPIPE_SHARED_DIR?): {e}", path.display()))
}
