//! The upload form reader (`imagepipe_wire::upload::read_form`), what ingest runs on every
//! upload's body before anything is stored: any body gets a form or a refusal, never a panic
//! or a hang, and what it accepts keeps its limits: the file within its byte limit, in memory
//! only with a slot and within the memory size, its SHA-256 that of the bytes spooled; the
//! small fields within theirs.
#![no_main]

use std::sync::{Arc, OnceLock};

use imagepipe_wire::{
    steps::bounds::MAX_STEPS_BYTES,
    upload::{
        FormLimits, MAX_CALLBACK_URL_LEN, MAX_PRESET_LEN, MEMORY_SPOOL_MAX, Spooled, read_form,
    },
};
use libfuzzer_sys::fuzz_target;
use poem::{FromRequest, Request, web::Multipart};
use sha2::{Digest, Sha256};
use tokio::{io::AsyncReadExt, runtime::Runtime, sync::Semaphore};

/// The boundary every input's body is read with (the seeds use it; the fuzzer finds it).
const BOUNDARY: &str = "fuzz";

/// Small, so inputs of a few kilobytes reach the refusal of a file past its limit.
const MAX_FILE_BYTES: u64 = 4096;

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
    })
}

fuzz_target!(|input: &[u8]| {
    // The first byte chooses a memory slot or none, and whether to take the digest.
    let Some((&choice, body)) = input.split_first() else {
        return;
    };
    let slots = Arc::new(Semaphore::new(usize::from(choice & 1)));
    let limits = FormLimits {
        max_file_bytes: MAX_FILE_BYTES,
        digest: choice & 2 == 2,
    };
    runtime().block_on(async {
        let request = Request::builder()
            .content_type(&format!("multipart/form-data; boundary={BOUNDARY}"))
            .body(body.to_vec());
        let (request, mut request_body) = request.split();
        let multipart = Multipart::from_request(&request, &mut request_body)
            .await
            .expect("a multipart content type");
        let Ok(form) =
            read_form(multipart, limits, || slots.clone().try_acquire_owned().ok()).await
        else {
            return;
        };
        assert!(
            form.callback_url
                .is_none_or(|url| url.len() <= MAX_CALLBACK_URL_LEN)
        );
        assert!(form.preset.is_none_or(|name| name.len() <= MAX_PRESET_LEN));
        // The parts' bytes are within the limit together; joining n parts (none empty) adds
        // n - 1 commas and two brackets, so at most MAX - 1 + 2 bytes more.
        assert!(
            form.steps
                .is_none_or(|steps| steps.len() <= 2 * MAX_STEPS_BYTES + 1)
        );
        let file = form.file;
        assert!(file.len <= MAX_FILE_BYTES);
        let bytes = match file.body {
            Spooled::Memory(bytes, _slot) => {
                assert!(choice & 1 == 1, "in memory without a slot");
                assert!(bytes.len() <= MEMORY_SPOOL_MAX);
                bytes.to_vec()
            }
            Spooled::Disk(mut spool) => {
                let mut bytes = Vec::new();
                spool.read_to_end(&mut bytes).await.expect("read the spool");
                bytes
            }
        };
        assert_eq!(bytes.len() as u64, file.len);
        match file.sha256 {
            Some(digest) => assert_eq!(digest, <[u8; 32]>::from(Sha256::digest(&bytes))),
            None => assert!(!limits.digest),
        }
    });
});
