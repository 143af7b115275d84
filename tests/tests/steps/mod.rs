//! Chains of steps through the real services: every way a chain is refused, chains and
//! presets run to their results, and what the operator's settings (ALLOWED_OPS,
//! PRESETS_FILE) change. Each file starts one system and runs its cases on it.

mod chains;
mod operator;
mod refusals;

use std::time::Duration;

use imagepipe_tests::TestSystem;
use reqwest::multipart::Form;
use serde_json::Value;

pub(crate) const DEADLINE: Duration = Duration::from_secs(60);

/// An upload form: `file` (a test photograph) and text fields such as `steps` and `preset`.
pub(crate) fn form(file: &str, fields: &[(&str, &str)]) -> Form {
    let mut form = TestSystem::file_form(file, imagepipe_tests::good_image(file));
    for (name, value) in fields {
        form = form.text(name.to_string(), value.to_string());
    }
    form
}

/// A JPEG given an EXIF block that says `orientation` (6: turn 90° clockwise to be upright),
/// inserted after its start-of-image marker: the test photographs carry none.
fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    assert_eq!(&jpeg[..2], b"\xFF\xD8", "a JPEG");
    // TIFF, little-endian: one IFD with one entry, Orientation (0x0112), a SHORT.
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"II*\0");
    tiff.extend_from_slice(&8u32.to_le_bytes());
    tiff.extend_from_slice(&1u16.to_le_bytes());
    tiff.extend_from_slice(&0x0112u16.to_le_bytes());
    tiff.extend_from_slice(&3u16.to_le_bytes());
    tiff.extend_from_slice(&1u32.to_le_bytes());
    tiff.extend_from_slice(&orientation.to_le_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_le_bytes());
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&u16::try_from(app1.len() + 2).unwrap().to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// Upload a form; its status and JSON body.
pub(crate) async fn send(
    system: &TestSystem,
    form: Form,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let response = system.upload_form(form, headers).await;
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

/// Upload a form that must be accepted; its task id.
pub(crate) async fn accepted(system: &TestSystem, form: Form) -> uuid::Uuid {
    let (status, body) = send(system, form, &[]).await;
    assert_eq!(status, 202, "{body}");
    imagepipe_tests::task_id_of(&body)
}

/// The size of a test photograph once upright (the size its chain starts from).
fn upright_size(file: &str) -> (u32, u32) {
    let image = imagepipe_tests::upright(&imagepipe_tests::good_image(file));
    (image.width(), image.height())
}

/// A COMPLETED task's result: its description in the view, and its bytes in the bucket,
/// which must be what the description says.
async fn completed_result(system: &TestSystem, task: &Value) -> (Value, Vec<u8>) {
    assert_eq!(task["status"], "COMPLETED", "{task}");
    let result = task["result"].clone();
    let key = result["key"].as_str().expect("a result key");
    let bytes = system
        .storage
        .processed
        .get_file(key)
        .await
        .expect("the result is stored")
        .to_vec();
    assert_eq!(result["size_bytes"], bytes.len(), "{task}");
    let decoded = image::load_from_memory(&bytes).expect("the result decodes");
    assert_eq!(
        (result["width"].clone(), result["height"].clone()),
        (decoded.width().into(), decoded.height().into()),
        "the stated size is the result's: {task}"
    );
    let format = image::guess_format(&bytes).expect("a known format");
    assert_eq!(
        result["content_type"],
        format.to_mime_type(),
        "the stated format is the result's: {task}"
    );
    (result, bytes)
}
