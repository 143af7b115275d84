//! The processor's own limits, as defence in depth: a job that bypassed ingest's checks still
//! cannot make it decode an image beyond the pixel limit or exhaust its memory; and the
//! largest image it accepts, through a chain of steps, stays under the same bound. The
//! processor runs as a process, to measure its peak memory, and is stopped with SIGTERM.

use std::time::Duration;

use image::{ImageEncoder, RgbImage, codecs::jpeg::JpegEncoder};
use imagepipe_tests::{Options, ServiceProcess, TestSystem, bad_file, good_image};

use super::one_at_a_time;

/// What the processor may hold at its peak while refusing such a job, or while running a
/// chain on the largest image it accepts.
const PEAK_RSS_LIMIT: u64 = 512 * 1024 * 1024;

#[tokio::test]
async fn an_over_limit_image_published_straight_to_the_work_queue_fails_without_exhausting_memory()
{
    let _serial = one_at_a_time().await;
    let system = TestSystem::start(Options {
        start_processor: false,
        ..Options::default()
    })
    .await;
    let bomb = bad_file("bomb-30000x30000.png");
    let id = system
        .enqueue_directly(bomb, "image/png", 30000, 30000)
        .await;

    let processor = ServiceProcess::spawn("imagepipe-processor", &system.processor_args(), &[]);
    let task = system.wait_terminal(id, Duration::from_secs(60)).await;
    assert_eq!(task["status"], "FAILED", "{task}");
    assert_eq!(task["error"]["code"], "image_too_large");
    assert_eq!(task["attempts"], 1, "a permanent failure is not retried");
    let peak = processor.peak_rss_bytes();
    eprintln!("processor peak RSS: {} MiB", peak / (1024 * 1024));
    assert!(peak < PEAK_RSS_LIMIT, "processor peak RSS {peak} bytes");
    processor.terminate(Duration::from_secs(30)).await;
    system.cleanup().await;
}

/// A 40-megapixel photograph, 7300 × 5470 (39.9 MP, just under `MAX_IMAGE_PIXELS`): the test
/// set's largest, `photo-12mp.jpg` (4000 × 3000), tiled with mirrored copies so there is no
/// seam, encoded as a JPEG at quality 90 (about as large as a camera's).
fn photo_40mp() -> Vec<u8> {
    let source = image::load_from_memory(&good_image("photo-12mp.jpg"))
        .expect("photo-12mp.jpg decodes")
        .to_rgb8();
    let (sw, sh) = source.dimensions();
    let mirror = |v: u32, side: u32| {
        let period = v % (2 * side);
        if period < side {
            period
        } else {
            2 * side - 1 - period
        }
    };
    let photo = RgbImage::from_fn(7300, 5470, |x, y| {
        *source.get_pixel(mirror(x, sw), mirror(y, sh))
    });
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, 90)
        .write_image(photo.as_raw(), 7300, 5470, image::ExtendedColorType::Rgb8)
        .expect("JPEG encodes");
    jpeg
}

/// The largest image the service accepts (40 MP), uploaded through the API with a chain of
/// steps, is processed within the same memory bound as a refused bomb. Two chains: the one
/// the issue names (resize, then WebP: the JPEG is decoded already reduced), and one that
/// turns the image first, so the whole 40 MP is decoded and turned at full size before it
/// is made smaller: "bounded by the pixel limits whatever the chain".
#[tokio::test]
async fn a_40_megapixel_photograph_through_resize_and_encode_stays_under_the_memory_bound() {
    let _serial = one_at_a_time().await;
    let system = TestSystem::start(Options {
        start_processor: false,
        processing_delay_ms: 0,
        ..Options::default()
    })
    .await;
    let photo = photo_40mp();
    let processor = ServiceProcess::spawn("imagepipe-processor", &system.processor_args(), &[]);
    let chains = [
        r#"[{"op":"resize","width":1024},{"op":"encode","format":"webp"}]"#,
        r#"[{"op":"rotate","degrees":90},{"op":"resize","width":1024},{"op":"encode","format":"webp"}]"#,
    ];
    // 7300 × 5470 to 1024 wide keeps the aspect: 5470 × 1024 / 7300 = 767.3, so 767; turned,
    // 7300 × 1024 / 5470 = 1366.6, so 1367.
    let sizes = [(1024, 767), (1024, 1367)];
    for (chain, (width, height)) in chains.into_iter().zip(sizes) {
        let form = TestSystem::file_form("photo-40mp.jpg", photo.clone()).text("steps", chain);
        let response = system.upload_form(form, &[]).await;
        assert_eq!(
            response.status(),
            202,
            "40 MP upload with steps {chain} accepted"
        );
        let id = imagepipe_tests::task_id_of(&response.json().await.expect("JSON body"));
        let task = system.wait_terminal(id, Duration::from_secs(120)).await;
        assert_eq!(task["status"], "COMPLETED", "{chain}: {task}");
        assert_eq!(task["result"]["width"], width, "{chain}: {task}");
        assert_eq!(task["result"]["height"], height, "{chain}: {task}");
        assert_eq!(
            task["result"]["content_type"], "image/webp",
            "{chain}: {task}"
        );
        let peak = processor.peak_rss_bytes();
        eprintln!(
            "{chain}: processor peak RSS so far {} MiB",
            peak / (1024 * 1024)
        );
        assert!(
            peak < PEAK_RSS_LIMIT,
            "{chain}: processor peak RSS {peak} bytes"
        );
    }
    processor.terminate(Duration::from_secs(30)).await;
    system.cleanup().await;
}
