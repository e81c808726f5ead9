//! feather-bench: the load generator and benchmark driver behind
//! `cargo xtask bench`.
//!
//! - [`loadgen`]: closed-loop HTTP/1.1 load and simultaneous bursts, HDR
//!   latency histograms.
//! - [`servers`]: the hyper ceiling and a loopback website to crawl.
//! - [`process`]: memory and CPU time of a process, from `/proc`.
//! - [`ceilings`]: the server's status query and trigger transaction run
//!   straight against each database (the denominators).
//!
//! The benchmark scenarios and the report are the binary's (`main.rs`,
//! `scenarios.rs`, `report.rs`): they orchestrate and print.

pub mod ceilings;
pub mod loadgen;
pub mod process;
pub mod servers;

use std::net::SocketAddr;

/// Why a load run or a measurement failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// No TCP connection to the server under test.
    #[error("cannot connect to {addr}")]
    Connect {
        /// The server's address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Reading or writing failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The HTTP exchange failed.
    #[error("HTTP error: {0}")]
    Http(#[from] hyper::Error),
    /// The latency histogram refused a value or a merge.
    #[error("histogram: {0}")]
    Histogram(String),
    /// A load task panicked or was cancelled.
    #[error("a load task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// `/proc` did not say what was asked.
    #[error("{0}")]
    Proc(String),
    /// Anything else, said in words.
    #[error("{0}")]
    Other(String),
}

/// Result of the library's operations.
pub type Result<T> = std::result::Result<T, BenchError>;
