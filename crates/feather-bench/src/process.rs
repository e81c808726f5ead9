//! What `/proc` says about a process under test (the release
//! `feather-server`, the ceiling): resident memory and CPU time.

use std::time::Duration;

use crate::{BenchError, Result};

/// Resident memory now and at its peak, in KiB.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Memory {
    /// `VmRSS`.
    pub rss_kib: u64,
    /// `VmHWM`: the peak resident set so far.
    pub peak_rss_kib: u64,
    /// `RssAnon`: the resident heap and stacks, without file pages (the
    /// SQLite status reader maps the database file, and pages of that
    /// mapping it has touched count in `VmRSS`, shared with the page cache).
    pub anon_rss_kib: u64,
}

/// Reads `/proc/PID/status`.
pub fn memory(pid: u32) -> Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| BenchError::Proc(format!("cannot read /proc/{pid}/status: {e}")))?;
    let field = |name: &str| -> Result<u64> {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| BenchError::Proc(format!("no {name} in /proc/{pid}/status")))
    };
    Ok(Memory {
        rss_kib: field("VmRSS:")?,
        peak_rss_kib: field("VmHWM:")?,
        anon_rss_kib: field("RssAnon:")?,
    })
}

/// User plus system CPU time the process has used.
pub fn cpu_time(pid: u32) -> Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| BenchError::Proc(format!("cannot read /proc/{pid}/stat: {e}")))?;
    // Fields after the parenthesized command name; utime and stime are the
    // 14th and 15th fields of the whole line.
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| BenchError::Proc(format!("unexpected /proc/{pid}/stat")))?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| -> Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| BenchError::Proc(format!("unexpected /proc/{pid}/stat")))
    };
    let total = ticks(11)? + ticks(12)?;
    // SAFETY: sysconf only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let per_second = u64::try_from(per_second)
        .ok()
        .filter(|t| *t > 0)
        .unwrap_or(100);
    Ok(Duration::from_micros(total * 1_000_000 / per_second))
}
