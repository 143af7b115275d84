//! The SHA-256 of the shipped model and of the runtime library, read from `models.lock` (the
//! one place they are written; the fetch script and the image build read the same file), so
//! the processor refuses any other file than the one that was fetched and tested.

const LOCK: &str = include_str!("../../../../../models.lock");

/// The value of `NAME=value` in models.lock.
fn pin(name: &str) -> &'static str {
    LOCK.lines()
        .filter_map(|line| line.split_once('='))
        .find(|(key, _)| key.trim() == name)
        .map(|(_, value)| value.trim())
        .unwrap_or_else(|| panic!("models.lock has no {name}: the build's copy is incomplete"))
}

pub(crate) fn face_model_sha256() -> &'static str {
    pin("BLAZEFACE_MODEL_SHA256")
}

pub(crate) fn runtime_library_sha256() -> &'static str {
    pin("ONNXRUNTIME_LIBRARY_SHA256")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pins_are_sha256_digests() {
        for digest in [face_model_sha256(), runtime_library_sha256()] {
            assert_eq!(digest.len(), 64, "{digest}");
            assert!(digest.chars().all(|c| c.is_ascii_hexdigit()), "{digest}");
        }
    }
}
