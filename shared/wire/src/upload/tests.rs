use poem::{FromRequest, Request};
use sha2::{Digest, Sha256};
use tokio::{io::AsyncReadExt, sync::Semaphore};

use super::*;

const BOUNDARY: &str = "imagepipe-test-boundary";

/// A multipart body of `(name, file name, bytes)` parts.
fn body_of(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file_name, bytes) in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        let disposition = match file_name {
            Some(file) => format!("form-data; name=\"{name}\"; filename=\"{file}\""),
            None => format!("form-data; name=\"{name}\""),
        };
        body.extend_from_slice(format!("Content-Disposition: {disposition}\r\n\r\n").as_bytes());
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn multipart(body: Vec<u8>) -> Multipart {
    let request = Request::builder()
        .content_type(&format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(body);
    let (request, mut body) = request.split();
    Multipart::from_request(&request, &mut body)
        .await
        .expect("a multipart content type")
}

const LIMITS: FormLimits = FormLimits {
    max_file_bytes: 4 * MEMORY_SPOOL_MAX as u64,
    digest: true,
};

async fn read(
    parts: &[(&str, Option<&str>, &[u8])],
    slots: usize,
) -> Result<UploadedForm, FormError> {
    let memory = std::sync::Arc::new(Semaphore::new(slots));
    read_form(multipart(body_of(parts)).await, LIMITS, || {
        memory.clone().try_acquire_owned().ok()
    })
    .await
}

async fn bytes_of(file: UploadedFile) -> Vec<u8> {
    match file.body {
        Spooled::Memory(bytes, _slot) => bytes.to_vec(),
        Spooled::Disk(mut file) => {
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes).await.expect("read the spool");
            bytes
        }
    }
}

#[tokio::test]
async fn a_small_file_with_a_slot_stays_in_memory_with_its_digest() {
    let form = read(&[("file", Some("a.png"), b"pixels")], 1)
        .await
        .expect("read");
    assert!(matches!(form.file.body, Spooled::Memory(..)));
    assert_eq!(form.file.len, 6);
    assert_eq!(form.file.sha256, Some(Sha256::digest(b"pixels").into()));
    assert_eq!(form.file.file_name.as_deref(), Some("a.png"));
    assert_eq!(bytes_of(form.file).await, b"pixels");
}

#[tokio::test]
async fn without_a_slot_or_past_the_memory_size_the_file_goes_to_disk_whole() {
    let form = read(&[("file", None, b"pixels")], 0).await.expect("read");
    assert!(matches!(form.file.body, Spooled::Disk(_)));
    assert_eq!(bytes_of(form.file).await, b"pixels");

    let big: Vec<u8> = (0..MEMORY_SPOOL_MAX + 5).map(|i| (i % 251) as u8).collect();
    let form = read(&[("file", None, &big)], 1).await.expect("read");
    assert!(matches!(form.file.body, Spooled::Disk(_)));
    assert_eq!(form.file.len, big.len() as u64);
    assert_eq!(form.file.sha256, Some(Sha256::digest(&big).into()));
    assert_eq!(bytes_of(form.file).await, big);
}

#[tokio::test]
async fn a_file_past_its_limit_is_refused_with_the_limit() {
    let big = vec![7u8; LIMITS.max_file_bytes as usize + 1];
    let refused = read(&[("file", None, &big)], 1)
        .await
        .expect_err("too large");
    assert!(
        matches!(refused, FormError::FileTooLarge { limit } if limit == LIMITS.max_file_bytes),
        "{refused:?}"
    );
}

#[tokio::test]
async fn the_small_fields_are_read_and_bounded() {
    let form = read(
        &[
            ("callback_url", None, b"https://example.com/hook"),
            ("preset", None, b" thumbnail "),
            ("steps", None, br#"{"op":"grayscale"}"#),
            ("steps", None, br#"{"op":"rotate","degrees":90}"#),
            ("other", None, b"ignored"),
            ("file", Some("a\tb.png"), b"x"),
        ],
        1,
    )
    .await
    .expect("read");
    assert_eq!(
        form.callback_url.as_deref(),
        Some("https://example.com/hook")
    );
    assert_eq!(form.preset.as_deref(), Some("thumbnail"));
    assert_eq!(
        form.steps.as_deref(),
        Some(&br#"[{"op":"grayscale"},{"op":"rotate","degrees":90}]"#[..])
    );
    assert_eq!(form.file.file_name.as_deref(), Some("ab.png"));

    let long_url = vec![b'a'; MAX_CALLBACK_URL_LEN + 1];
    let refused = read(
        &[("callback_url", None, &long_url), ("file", None, b"x")],
        1,
    )
    .await;
    assert!(
        matches!(refused, Err(FormError::CallbackTooLong)),
        "{refused:?}"
    );
    let refused = read(&[("callback_url", None, b"\xff"), ("file", None, b"x")], 1).await;
    assert!(
        matches!(refused, Err(FormError::CallbackNotText)),
        "{refused:?}"
    );
    let long_steps = vec![b' '; MAX_STEPS_BYTES + 1];
    let refused = read(&[("steps", None, &long_steps), ("file", None, b"x")], 1).await;
    assert!(
        matches!(refused, Err(FormError::StepsTooLong)),
        "{refused:?}"
    );
    let twice = read(
        &[
            ("preset", None, b"a"),
            ("preset", None, b"b"),
            ("file", None, b"x"),
        ],
        1,
    )
    .await;
    assert!(
        matches!(twice, Err(FormError::Repeated("preset"))),
        "{twice:?}"
    );
}

#[tokio::test]
async fn a_form_without_a_file_or_a_broken_body_is_refused() {
    let refused = read(&[("preset", None, b"web")], 1).await;
    assert!(
        matches!(refused, Err(FormError::MissingFile)),
        "{refused:?}"
    );
    let mut cut = body_of(&[("file", None, b"pixels")]);
    cut.truncate(cut.len() - 12);
    let memory = std::sync::Arc::new(Semaphore::new(1));
    let refused = read_form(multipart(cut).await, LIMITS, || {
        memory.clone().try_acquire_owned().ok()
    })
    .await;
    assert!(
        matches!(refused, Err(FormError::Malformed(_))),
        "{refused:?}"
    );
}

#[test]
fn step_parts_join_into_one_array_unless_one_part_is_the_array() {
    assert_eq!(join_step_parts(vec![]), None);
    let array = Bytes::from_static(b" [1,2]");
    assert_eq!(join_step_parts(vec![array.clone()]), Some(array));
    assert_eq!(
        join_step_parts(vec![Bytes::from_static(b"{\"a\":1}")]).as_deref(),
        Some(&b"[{\"a\":1}]"[..])
    );
}

#[test]
fn file_names_lose_control_characters_and_excess_length() {
    assert_eq!(sanitize_file_name("a\u{0}b\nc.png"), "abc.png");
    assert_eq!(sanitize_file_name(&"x".repeat(1000)).len(), 255);
    assert_eq!(sanitize_file_name("../../etc/passwd"), "../../etc/passwd");
}
