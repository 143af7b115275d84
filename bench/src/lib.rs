//! Benchmarks of imagepipe's pieces. They are run by hand (`bench/kernel.sh`), never by
//! `cargo test`: timings need a quiet machine and a release build.
