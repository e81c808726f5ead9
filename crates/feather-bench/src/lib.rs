//! feather-bench: the load generator and benchmark driver behind
//! `cargo xtask bench`.
//!
//! - [`loadgen`]: closed-loop HTTP/1.1 load and simultaneous bursts, HDR
//!   latency histograms.
//! - [`servers`]: the hyper ceiling and a loopback website to crawl.
//! - [`process`]: the servers under test as child processes; their memory
//!   and CPU time from `/proc`.
//! - [`scenarios`]: what each benchmark seeds, serves and measures.
//! - [`report`]: the results as JSON and as `BENCHMARKS.md`.

pub mod loadgen;
pub mod process;
pub mod report;
pub mod scenarios;
pub mod servers;
