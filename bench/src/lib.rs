//! Benchmarks of imagepipe's pieces. They are run by hand (`bench/kernel.sh`), never by
//! `cargo test`: timings need a quiet machine and a release build.

use std::time::{Duration, Instant};

/// Call `f` once to warm up, then `runs` times: the median and the fastest run.
pub fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, Duration) {
    std::hint::black_box(f());
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(f());
            start.elapsed()
        })
        .collect();
    times.sort();
    (times[times.len() / 2], times[0])
}

/// Milliseconds, as the benchmarks print them.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
