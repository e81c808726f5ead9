//! The VFS against plain SQLite: in WAL mode, `synchronous=FULL` keeps
//! every committed row through a power cut and `NORMAL` does not, and cuts
//! that keep a random, torn prefix of the unsynced writes leave a database
//! that passes `PRAGMA integrity_check` with every synced commit in it.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};
use sqlite_powercut::{Loss, PowerCut};

fn open(path: &Path, vfs: Option<&PowerCut>, synchronous: &str) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
    let conn = match vfs {
        Some(vfs) => Connection::open_with_flags_and_vfs(path, flags, vfs.name())?,
        None => Connection::open_with_flags(path, flags)?,
    };
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", synchronous)?;
    Ok(conn)
}

/// Commits `rows` rows one transaction each on the power-cut VFS, cuts the
/// power as `loss` says, and counts the rows on reopening.
fn committed_then_cut(
    dir: &Path,
    synchronous: &str,
    rows: i64,
    loss: Loss,
) -> Result<(i64, String), Box<dyn std::error::Error>> {
    let path = dir.join(format!("{synchronous}.db"));
    {
        let setup = open(&path, None, "FULL")?;
        setup.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")?;
    }
    let vfs = PowerCut::register()?;
    let conn = open(&path, Some(&vfs), synchronous)?;
    for id in 0..rows {
        conn.execute(
            "INSERT INTO t (id, body) VALUES (?1, ?2)",
            (id, "x".repeat(300)),
        )?;
    }
    vfs.cut(loss);
    // The "dead" connection can do nothing more, not even checkpoint.
    assert!(
        conn.execute("INSERT INTO t (id, body) VALUES (-1, '')", [])
            .is_err()
    );
    drop(conn);
    let reopened = open(&path, None, "FULL")?;
    let count: i64 = reopened.query_row("SELECT COUNT(*) FROM t", [], |row| row.get(0))?;
    let integrity: String = reopened.query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
    Ok((count, integrity))
}

#[test]
fn full_keeps_every_committed_row_and_normal_loses_them() -> Result<(), Box<dyn std::error::Error>>
{
    let dir = tempfile::tempdir()?;
    let (full, integrity) = committed_then_cut(dir.path(), "FULL", 200, Loss::Everything)?;
    assert_eq!((full, integrity.as_str()), (200, "ok"));
    // NORMAL syncs the WAL only at checkpoints (every 1000 pages): the 200
    // commits were never synced.
    let (normal, integrity) = committed_then_cut(dir.path(), "NORMAL", 200, Loss::Everything)?;
    assert_eq!(integrity, "ok");
    assert!(
        normal < 200,
        "NORMAL kept all {normal} rows through a power cut"
    );
    Ok(())
}

#[test]
fn torn_prefixes_leave_an_intact_database_with_every_synced_commit()
-> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("torn.db");
    {
        let setup = open(&path, None, "FULL")?;
        setup.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")?;
    }
    let mut synced_total = 0i64;
    let mut kept_some = false;
    for round in 0..30u64 {
        let vfs = PowerCut::register()?;
        let conn = open(&path, Some(&vfs), "FULL")?;
        // Committed (synced) rows, then one transaction left unsynced in
        // the middle of its writes: a big one, so its WAL frames are many.
        for _ in 0..5 {
            conn.execute(
                "INSERT INTO t (body) VALUES (?1)",
                ["y".repeat(1000 + round as usize * 37)],
            )?;
            synced_total += 1;
        }
        conn.execute_batch("PRAGMA synchronous = OFF")?;
        conn.execute_batch(
            "BEGIN; INSERT INTO t (body) SELECT 'z' || hex(randomblob(2000)) FROM t LIMIT 50; COMMIT",
        )?;
        let report = vfs.cut(Loss::RandomPrefix {
            seed: round * 7919 + 1,
        });
        kept_some |= report.kept_writes > 0;
        drop(conn);
        let reopened = open(&path, None, "FULL")?;
        let integrity: String =
            reopened.query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
        assert_eq!(integrity, "ok", "round {round}: {report:?}");
        let synced: i64 =
            reopened.query_row("SELECT COUNT(*) FROM t WHERE body LIKE 'y%'", [], |row| {
                row.get(0)
            })?;
        assert_eq!(synced, synced_total, "round {round}: {report:?}");
        // Keep the next round's database small and the unsynced batch out.
        reopened.execute_batch(
            "DELETE FROM t WHERE body LIKE 'z%'; PRAGMA wal_checkpoint(TRUNCATE);",
        )?;
    }
    assert!(
        kept_some,
        "no cut kept any unsynced write: the prefix mode is not exercised"
    );
    Ok(())
}
