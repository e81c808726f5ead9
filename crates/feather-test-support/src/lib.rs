//! What feather-sync's tests and tools share, written once (like omicron's
//! `test-utils`): never a dependency of a shipped crate (the tidy test
//! checks that).
//!
//! - [`skip`]: a test that cannot run here says so where it shows, and
//!   fails instead under CI.
//! - [`db`]: throwaway databases, SQLite in a temporary directory or a fresh
//!   PostgreSQL database, and [`on_both_backends!`].
//! - [`process`]: the `feather-server` binary as a child process (address
//!   from its banner, killed when dropped) and its `admin --json` commands.
//! - [`server`]: a server started in-process on a loopback port, with the
//!   demo seeded, and clients for it.
//! - [`poll`]: reading a source's sync status through the generated client
//!   until a condition holds.
//! - [`proxy`]: a TCP proxy whose connections a test cuts on demand.
//! - [`random`]: a seeded xorshift generator for repeatable choices.
//! - [`powerloss`]: an in-process server on SQLite's power-cut VFS, the
//!   power cut under load, and the checks after the database reopens.

pub mod db;
pub mod poll;
pub mod powerloss;
pub mod process;
pub mod proxy;
pub mod random;
pub mod server;
pub mod skip;

pub use db::{Backend, TEST_DATABASE_ENV, TestDb};
pub use skip::skip;
