//! feather-server: the Feather knowledge-base sync API for real.
//!
//! - [`store`]: persistent state behind the [`store::Store`] trait (SQLite);
//! - [`auth`]: API keys (generation, hashing, verification with a short cache);
//! - [`api`]: the `feather-api` trait implemented over the store;
//! - [`engine`]: the sync engine (workers, leases, reaper) over `feather-connectors`;
//! - [`metrics`]: Prometheus metrics and the `/metrics` text;
//! - [`server`]: starting and stopping the dropshot server;
//! - [`logging`]: the log formats and the buffered JSON log writer;
//! - [`demo`] and [`admin`]: seeding and operator commands.
//!
//! The binary (`src/main.rs`) is only the command line over these.

pub mod admin;
pub mod api;
pub mod auth;
pub mod demo;
pub mod engine;
pub mod logging;
pub mod metrics;
pub mod server;
pub mod store;

/// The git revision this binary was built from (`unknown` outside a checkout).
pub const GIT_REVISION: &str = env!("FEATHER_GIT_REVISION");

pub use logging::{LogFormat, LogGuard, logger};
pub use server::{
    MetricsMode, RunningServer, ServeOptions, ServerError, TlsFiles, raise_open_files_limit,
    shutdown_signal, start, start_with,
};
