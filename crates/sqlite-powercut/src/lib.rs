//! A SQLite VFS for tests that simulates power cuts: it keeps every file's
//! writes since its last `xSync` apart and, when the power is cut, throws
//! them away (or keeps a random prefix of them, the last one torn at a
//! sector boundary), the way SQLite's own crash tests (`test6.c`) and
//! Jepsen's LazyFS do. A `kill -9` never shows a missing `fsync` (the
//! kernel still writes the page cache); this does.
//!
//! ```text
//! connections ──▶ PowerCut VFS ──▶ the default VFS (locks, shared memory, open/close)
//!                   │ xWrite/xTruncate: into memory (the "page cache"), logged
//!                   │ xRead: from memory (what every connection would see)
//!                   └ xSync: the logged writes go to the real file (the "disk")
//! ```
//!
//! The database, WAL and rollback-journal files are simulated; temporary
//! files pass through. Locks and the WAL index (`-shm`, which SQLite
//! rebuilds after a crash) stay the default VFS's. A synced write reaches
//! the real file but is not `fsync`ed for real: the file on the test's disk
//! *is* the simulated disk, and a real flush would only slow tests down.
//!
//! [`PowerCut::cut`] turns the simulated machine off: what was not synced is
//! dropped, and every file handle still open fails each later call with an
//! I/O error, so the connections of the "dead" process can do nothing more
//! (not even checkpoint or delete the WAL as they close). Close them, then
//! open the database again with the normal VFS (or a new [`PowerCut`]).
//! A process killed with SIGKILL while on this VFS is a power cut too: the
//! unsynced writes only ever lived in its memory.

use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::ffi;

/// Bytes of a sector: a torn write keeps a whole number of them.
const SECTOR: usize = 512;

/// What [`PowerCut::register`] can fail with.
#[derive(Debug, thiserror::Error)]
pub enum PowerCutError {
    /// SQLite has no default VFS to wrap.
    #[error("SQLite has no default VFS")]
    NoDefaultVfs,
    /// SQLite refused to register the VFS (result code).
    #[error("sqlite3_vfs_register failed with code {0}")]
    Register(c_int),
    /// SQLite could not be initialized (result code).
    #[error("sqlite3_initialize failed with code {0}")]
    Initialize(c_int),
}

/// How much of the unsynced writes reaches the disk at a power cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// None of them: every file is as of its last sync.
    Everything,
    /// A random prefix of each file's writes since its last sync (random
    /// from `seed`), the last write of the prefix torn after a random whole
    /// number of sectors: what a disk that writes in order may leave.
    RandomPrefix {
        /// Seed of the choices, to repeat a cut.
        seed: u64,
    },
}

/// What a power cut threw away.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CutReport {
    /// Files that had unsynced writes.
    pub files: usize,
    /// Writes and truncations that never reached the disk (the torn one
    /// counts as lost).
    pub lost_writes: usize,
    /// Writes that reached the disk after all (a kept prefix).
    pub kept_writes: usize,
}

/// A write or truncation since the file's last sync.
#[derive(Debug)]
enum Op {
    Write { offset: u64, data: Vec<u8> },
    Truncate { size: u64 },
}

/// One simulated file: its content as connections see it (`memory`), the
/// real file as the disk holds it, and the operations between the two.
#[derive(Debug)]
struct FileState {
    disk: File,
    memory: Vec<u8>,
    unsynced: Vec<Op>,
    /// The power was cut: every call fails.
    dead: bool,
}

impl FileState {
    fn apply(&self, op: &Op) -> std::io::Result<()> {
        match op {
            Op::Write { offset, data } => self.disk.write_all_at(data, *offset),
            Op::Truncate { size } => self.disk.set_len(*size),
        }
    }

    fn sync(&mut self) -> std::io::Result<()> {
        for op in &self.unsynced {
            self.apply(op)?;
        }
        self.unsynced.clear();
        Ok(())
    }
}

/// The state one registered VFS shares between its file handles.
struct Shared {
    /// The VFS every call is passed on to.
    default: *mut ffi::sqlite3_vfs,
    /// Simulated files by path: kept when every handle is closed, as the
    /// page cache keeps what was written, until a power cut or a delete.
    files: Mutex<HashMap<String, Arc<Mutex<FileState>>>>,
    /// The power was cut: nothing opens any more.
    down: AtomicBool,
    /// Syncs that reached the disk (for tests of the tests).
    syncs: AtomicU64,
    /// Microseconds each sync waits before it takes the writes to the disk
    /// (a slow disk: widens the window in which a cut lands mid-commit).
    sync_delay_us: AtomicU64,
}

// The default VFS pointer is SQLite's, valid for the life of the process and
// safe to call from any thread (SQLite's VFS contract).
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A registered power-cut VFS. Connections use it by name (rusqlite's
/// `open_with_flags_and_vfs`, sqlx's `SqliteConnectOptions::vfs`); it is
/// never the default VFS. Registered VFSes live as long as the process.
#[derive(Clone)]
pub struct PowerCut {
    shared: &'static Shared,
    name: String,
}

impl std::fmt::Debug for PowerCut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PowerCut")
            .field("name", &self.name)
            .finish()
    }
}

impl PowerCut {
    /// Registers a new power-cut VFS over SQLite's default one, under a
    /// name of its own (`powercut-N`).
    pub fn register() -> Result<PowerCut, PowerCutError> {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let name = format!("powercut-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        // SAFETY: plain calls into SQLite; the VFS struct and its name are
        // leaked, so they outlive every connection that may use them.
        unsafe {
            let rc = ffi::sqlite3_initialize();
            if rc != ffi::SQLITE_OK {
                return Err(PowerCutError::Initialize(rc));
            }
            let default = ffi::sqlite3_vfs_find(std::ptr::null());
            if default.is_null() {
                return Err(PowerCutError::NoDefaultVfs);
            }
            let shared: &'static Shared = Box::leak(Box::new(Shared {
                default,
                files: Mutex::new(HashMap::new()),
                down: AtomicBool::new(false),
                syncs: AtomicU64::new(0),
                sync_delay_us: AtomicU64::new(0),
            }));
            let c_name = CString::new(name.clone()).map_err(|_| PowerCutError::Register(0))?;
            let vfs = Box::leak(Box::new(ffi::sqlite3_vfs {
                iVersion: 2,
                szOsFile: c_int::try_from(std::mem::size_of::<PowerCutFile>())
                    .map_err(|_| PowerCutError::Register(0))?,
                mxPathname: (*default).mxPathname,
                pNext: std::ptr::null_mut(),
                zName: c_name.into_raw(),
                pAppData: shared as *const Shared as *mut c_void,
                xOpen: Some(x_open),
                xDelete: Some(x_delete),
                xAccess: Some(x_access),
                xFullPathname: Some(x_full_pathname),
                xDlOpen: Some(x_dl_open),
                xDlError: Some(x_dl_error),
                xDlSym: Some(x_dl_sym),
                xDlClose: Some(x_dl_close),
                xRandomness: Some(x_randomness),
                xSleep: Some(x_sleep),
                xCurrentTime: Some(x_current_time),
                xGetLastError: Some(x_get_last_error),
                xCurrentTimeInt64: Some(x_current_time_int64),
                xSetSystemCall: None,
                xGetSystemCall: None,
                xNextSystemCall: None,
            }));
            let rc = ffi::sqlite3_vfs_register(vfs, 0);
            if rc != ffi::SQLITE_OK {
                return Err(PowerCutError::Register(rc));
            }
            Ok(PowerCut { shared, name })
        }
    }

    /// The name connections open the database with.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Syncs so far that took unsynced writes to the disk.
    pub fn syncs(&self) -> u64 {
        self.shared.syncs.load(Ordering::Relaxed)
    }

    /// Makes every sync wait `delay` before it reaches the disk, as a slow
    /// disk's flush does: a cut during the wait fails the sync, so the
    /// commit it belongs to fails and is never acknowledged.
    pub fn set_sync_delay(&self, delay: std::time::Duration) {
        let micros = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        self.shared.sync_delay_us.store(micros, Ordering::Relaxed);
    }

    /// Bytes written and not synced yet, over every file.
    pub fn unsynced_bytes(&self) -> u64 {
        let files = lock(&self.shared.files);
        files
            .values()
            .map(|file| {
                lock(file)
                    .unsynced
                    .iter()
                    .map(|op| match op {
                        Op::Write { data, .. } => data.len() as u64,
                        Op::Truncate { .. } => 0,
                    })
                    .sum::<u64>()
            })
            .sum()
    }

    /// Cuts the power: each file keeps what [`Loss`] says of its unsynced
    /// writes, and this VFS serves nothing more (open handles fail every
    /// call, nothing opens). A write that a sync had taken to the disk
    /// before the cut is kept; a sync that had not finished fails.
    pub fn cut(&self, loss: Loss) -> CutReport {
        self.shared.down.store(true, Ordering::SeqCst);
        let mut random = Random(match loss {
            Loss::Everything => 1,
            Loss::RandomPrefix { seed } => seed | 1,
        });
        let mut report = CutReport::default();
        let files: Vec<_> = lock(&self.shared.files).drain().collect();
        for (_, file) in files {
            let mut file = lock(&file);
            file.dead = true;
            let unsynced = std::mem::take(&mut file.unsynced);
            if unsynced.is_empty() {
                continue;
            }
            report.files += 1;
            let kept = match loss {
                Loss::Everything => 0,
                Loss::RandomPrefix { .. } => random.below(unsynced.len() as u64 + 1) as usize,
            };
            for (index, op) in unsynced.iter().enumerate().take(kept) {
                // The last write of the prefix may be torn.
                let torn = match op {
                    Op::Write { offset, data } if index + 1 == kept && data.len() > SECTOR => {
                        let sectors = data.len().div_ceil(SECTOR) as u64;
                        let keep = random.below(sectors) as usize * SECTOR;
                        Some(Op::Write {
                            offset: *offset,
                            data: data[..keep].to_vec(),
                        })
                    }
                    _ => None,
                };
                // Best effort: the test's own disk failing is not part of
                // the simulation.
                let _ = file.apply(torn.as_ref().unwrap_or(op));
            }
            report.kept_writes += kept;
            report.lost_writes += unsynced.len() - kept;
        }
        report
    }
}

/// A small xorshift generator: choices repeatable from a seed.
struct Random(u64);

impl Random {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        if bound == 0 { 0 } else { self.0 % bound }
    }
}

/// The file object SQLite allocates (`szOsFile` bytes) for each open file.
#[repr(C)]
struct PowerCutFile {
    /// SQLite's part: must come first.
    base: ffi::sqlite3_file,
    /// The default VFS's file object (allocated here).
    real: *mut ffi::sqlite3_file,
    /// Its allocation, freed on close.
    real_storage: *mut Vec<u64>,
    /// The simulated file; null for a file that passes through.
    state: *const Mutex<FileState>,
    /// The VFS's shared state.
    shared: *const Shared,
}

unsafe fn shared<'a>(vfs: *mut ffi::sqlite3_vfs) -> &'a Shared {
    // SAFETY: pAppData is the leaked `Shared` of this VFS.
    unsafe { &*((*vfs).pAppData as *const Shared) }
}

static IO_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    // Version 2: shared memory, but no memory-mapped reads (xFetch), which
    // would bypass the simulated content.
    iVersion: 2,
    xClose: Some(f_close),
    xRead: Some(f_read),
    xWrite: Some(f_write),
    xTruncate: Some(f_truncate),
    xSync: Some(f_sync),
    xFileSize: Some(f_file_size),
    xLock: Some(f_lock),
    xUnlock: Some(f_unlock),
    xCheckReservedLock: Some(f_check_reserved_lock),
    xFileControl: Some(f_file_control),
    xSectorSize: Some(f_sector_size),
    xDeviceCharacteristics: Some(f_device_characteristics),
    xShmMap: Some(f_shm_map),
    xShmLock: Some(f_shm_lock),
    xShmBarrier: Some(f_shm_barrier),
    xShmUnmap: Some(f_shm_unmap),
    xFetch: None,
    xUnfetch: None,
};

unsafe extern "C" fn x_open(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY: SQLite's VFS contract: `file` points to szOsFile writable
    // bytes, `name` is NULL or a valid path.
    unsafe {
        let shared = shared(vfs);
        let ours = file as *mut PowerCutFile;
        (*ours).base.pMethods = std::ptr::null();
        if shared.down.load(Ordering::SeqCst) {
            return ffi::SQLITE_CANTOPEN;
        }
        let default = shared.default;
        let words = ((*default).szOsFile as usize).div_ceil(8).max(1);
        let storage = Box::into_raw(Box::new(vec![0u64; words]));
        let real = (*storage).as_mut_ptr() as *mut ffi::sqlite3_file;
        let Some(open) = (*default).xOpen else {
            drop(Box::from_raw(storage));
            return ffi::SQLITE_CANTOPEN;
        };
        let rc = open(default, name, real, flags, out_flags);
        if rc != ffi::SQLITE_OK {
            drop(Box::from_raw(storage));
            return rc;
        }
        let simulated =
            ffi::SQLITE_OPEN_MAIN_DB | ffi::SQLITE_OPEN_WAL | ffi::SQLITE_OPEN_MAIN_JOURNAL;
        let mut state: *const Mutex<FileState> = std::ptr::null();
        if flags & simulated != 0 && !name.is_null() {
            let path = CStr::from_ptr(name).to_string_lossy().into_owned();
            match file_state(shared, &path) {
                Ok(found) => state = Arc::into_raw(found),
                Err(_) => {
                    if let Some(close) = (*real).pMethods.as_ref().and_then(|m| m.xClose) {
                        close(real);
                    }
                    drop(Box::from_raw(storage));
                    return ffi::SQLITE_CANTOPEN;
                }
            }
        }
        std::ptr::write(
            ours,
            PowerCutFile {
                base: ffi::sqlite3_file {
                    pMethods: &IO_METHODS,
                },
                real,
                real_storage: storage,
                state,
                shared,
            },
        );
        ffi::SQLITE_OK
    }
}

/// The simulated file at `path`: the one already in memory, else read from
/// the disk.
fn file_state(shared: &Shared, path: &str) -> std::io::Result<Arc<Mutex<FileState>>> {
    let mut files = lock(&shared.files);
    if let Some(found) = files.get(path) {
        return Ok(found.clone());
    }
    let disk = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    let memory = std::fs::read(path)?;
    let state = Arc::new(Mutex::new(FileState {
        disk,
        memory,
        unsynced: Vec::new(),
        dead: false,
    }));
    files.insert(path.to_owned(), state.clone());
    Ok(state)
}

/// Our file object and its simulated state, if any.
unsafe fn parts<'a>(
    file: *mut ffi::sqlite3_file,
) -> (&'a mut PowerCutFile, Option<&'a Mutex<FileState>>) {
    // SAFETY: SQLite passes back the object x_open initialized.
    unsafe {
        let ours = &mut *(file as *mut PowerCutFile);
        let state = ours.state.as_ref();
        (ours, state)
    }
}

/// The default VFS's method `$method` of the real file, called with `$args`.
macro_rules! real {
    ($ours:expr, $method:ident, $fallback:expr $(, $arg:expr)*) => {
        match (*$ours.real).pMethods.as_ref().and_then(|m| m.$method) {
            Some(method) => method($ours.real $(, $arg)*),
            None => $fallback,
        }
    };
}

unsafe extern "C" fn f_close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: called once per opened file, last.
    unsafe {
        let ours = &mut *(file as *mut PowerCutFile);
        let rc = real!(ours, xClose, ffi::SQLITE_OK);
        if !ours.state.is_null() {
            drop(Arc::from_raw(ours.state));
            ours.state = std::ptr::null();
        }
        drop(Box::from_raw(ours.real_storage));
        rc
    }
}

unsafe extern "C" fn f_read(
    file: *mut ffi::sqlite3_file,
    buffer: *mut c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: `buffer` holds `amount` bytes (SQLite's contract).
    unsafe {
        let (ours, state) = parts(file);
        let Some(state) = state else {
            return real!(ours, xRead, ffi::SQLITE_IOERR_READ, buffer, amount, offset);
        };
        let state = lock(state);
        if state.dead {
            return ffi::SQLITE_IOERR_READ;
        }
        let out = std::slice::from_raw_parts_mut(buffer as *mut u8, amount.max(0) as usize);
        let start = (offset.max(0) as usize).min(state.memory.len());
        let available = (state.memory.len() - start).min(out.len());
        out[..available].copy_from_slice(&state.memory[start..start + available]);
        if available < out.len() {
            out[available..].fill(0);
            return ffi::SQLITE_IOERR_SHORT_READ;
        }
        ffi::SQLITE_OK
    }
}

unsafe extern "C" fn f_write(
    file: *mut ffi::sqlite3_file,
    buffer: *const c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: `buffer` holds `amount` bytes (SQLite's contract).
    unsafe {
        let (ours, state) = parts(file);
        let Some(state) = state else {
            return real!(
                ours,
                xWrite,
                ffi::SQLITE_IOERR_WRITE,
                buffer,
                amount,
                offset
            );
        };
        let mut state = lock(state);
        if state.dead {
            return ffi::SQLITE_IOERR_WRITE;
        }
        let data = std::slice::from_raw_parts(buffer as *const u8, amount.max(0) as usize);
        let start = offset.max(0) as usize;
        if state.memory.len() < start + data.len() {
            state.memory.resize(start + data.len(), 0);
        }
        state.memory[start..start + data.len()].copy_from_slice(data);
        state.unsynced.push(Op::Write {
            offset: start as u64,
            data: data.to_vec(),
        });
        ffi::SQLITE_OK
    }
}

unsafe extern "C" fn f_truncate(file: *mut ffi::sqlite3_file, size: ffi::sqlite3_int64) -> c_int {
    // SAFETY: SQLite passes back the object x_open initialized.
    unsafe {
        let (ours, state) = parts(file);
        let Some(state) = state else {
            return real!(ours, xTruncate, ffi::SQLITE_IOERR_TRUNCATE, size);
        };
        let mut state = lock(state);
        if state.dead {
            return ffi::SQLITE_IOERR_TRUNCATE;
        }
        let size = size.max(0) as u64;
        state.memory.truncate(size as usize);
        state.unsynced.push(Op::Truncate { size });
        ffi::SQLITE_OK
    }
}

unsafe extern "C" fn f_sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    // SAFETY: SQLite passes back the object x_open initialized.
    unsafe {
        let (ours, state) = parts(file);
        let Some(state) = state else {
            return real!(ours, xSync, ffi::SQLITE_IOERR_FSYNC, flags);
        };
        let delay = (*ours.shared).sync_delay_us.load(Ordering::Relaxed);
        if delay > 0 {
            std::thread::sleep(std::time::Duration::from_micros(delay));
        }
        let mut state = lock(state);
        if state.dead {
            return ffi::SQLITE_IOERR_FSYNC;
        }
        if state.unsynced.is_empty() {
            return ffi::SQLITE_OK;
        }
        match state.sync() {
            Ok(()) => {
                (*ours.shared).syncs.fetch_add(1, Ordering::Relaxed);
                ffi::SQLITE_OK
            }
            Err(_) => ffi::SQLITE_IOERR_FSYNC,
        }
    }
}

unsafe extern "C" fn f_file_size(
    file: *mut ffi::sqlite3_file,
    size: *mut ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: `size` is writable (SQLite's contract).
    unsafe {
        let (ours, state) = parts(file);
        let Some(state) = state else {
            return real!(ours, xFileSize, ffi::SQLITE_IOERR_FSTAT, size);
        };
        let state = lock(state);
        if state.dead {
            return ffi::SQLITE_IOERR_FSTAT;
        }
        *size = state.memory.len() as ffi::sqlite3_int64;
        ffi::SQLITE_OK
    }
}

unsafe extern "C" fn f_lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    // SAFETY: delegated to the default VFS's file.
    unsafe {
        let (ours, _) = parts(file);
        real!(ours, xLock, ffi::SQLITE_IOERR_LOCK, level)
    }
}

unsafe extern "C" fn f_unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    // SAFETY: delegated to the default VFS's file.
    unsafe {
        let (ours, _) = parts(file);
        real!(ours, xUnlock, ffi::SQLITE_IOERR_UNLOCK, level)
    }
}

unsafe extern "C" fn f_check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    // SAFETY: delegated to the default VFS's file.
    unsafe {
        let (ours, _) = parts(file);
        real!(
            ours,
            xCheckReservedLock,
            ffi::SQLITE_IOERR_CHECKRESERVEDLOCK,
            out
        )
    }
}

unsafe extern "C" fn f_file_control(
    file: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    // SAFETY: delegated to the default VFS's file.
    unsafe {
        let (ours, state) = parts(file);
        // Size hints and chunk sizes would grow the real file behind the
        // simulation's back.
        if state.is_some()
            && (op == ffi::SQLITE_FCNTL_SIZE_HINT || op == ffi::SQLITE_FCNTL_CHUNK_SIZE)
        {
            return ffi::SQLITE_NOTFOUND;
        }
        real!(ours, xFileControl, ffi::SQLITE_NOTFOUND, op, arg)
    }
}

unsafe extern "C" fn f_sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: delegated to the default VFS's file.
    unsafe {
        let (ours, _) = parts(file);
        real!(ours, xSectorSize, SECTOR as c_int)
    }
}

unsafe extern "C" fn f_device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: delegated to the default VFS's file.
    unsafe {
        let (ours, _) = parts(file);
        real!(ours, xDeviceCharacteristics, 0)
    }
}

unsafe extern "C" fn f_shm_map(
    file: *mut ffi::sqlite3_file,
    page: c_int,
    page_size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    // SAFETY: delegated to the default VFS's file.
    unsafe {
        let (ours, _) = parts(file);
        real!(
            ours,
            xShmMap,
            ffi::SQLITE_IOERR_SHMMAP,
            page,
            page_size,
            extend,
            out
        )
    }
}

unsafe extern "C" fn f_shm_lock(
    file: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    // SAFETY: delegated to the default VFS's file.
    unsafe {
        let (ours, _) = parts(file);
        real!(ours, xShmLock, ffi::SQLITE_IOERR_SHMLOCK, offset, n, flags)
    }
}

unsafe extern "C" fn f_shm_barrier(file: *mut ffi::sqlite3_file) {
    // SAFETY: delegated to the default VFS's file.
    unsafe {
        let (ours, _) = parts(file);
        real!(ours, xShmBarrier, ())
    }
}

unsafe extern "C" fn f_shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    // SAFETY: delegated to the default VFS's file.
    unsafe {
        let (ours, state) = parts(file);
        // After a power cut the WAL index must stay for the next "boot" to
        // find and reset, as a crashed process leaves it.
        let delete = match state {
            Some(state) if lock(state).dead => 0,
            _ => delete,
        };
        real!(ours, xShmUnmap, ffi::SQLITE_OK, delete)
    }
}

unsafe extern "C" fn x_delete(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    sync_dir: c_int,
) -> c_int {
    // SAFETY: `name` is a valid path (SQLite's contract).
    unsafe {
        let shared = shared(vfs);
        if shared.down.load(Ordering::SeqCst) {
            return ffi::SQLITE_IOERR_DELETE;
        }
        if !name.is_null() {
            let path = CStr::from_ptr(name).to_string_lossy().into_owned();
            lock(&shared.files).remove(&path);
        }
        match (*shared.default).xDelete {
            Some(delete) => delete(shared.default, name, sync_dir),
            None => ffi::SQLITE_IOERR_DELETE,
        }
    }
}

/// Passes a VFS-level call on to the default VFS.
macro_rules! pass {
    ($name:ident, $method:ident, $ret:ty, $fallback:expr, ($($arg:ident: $ty:ty),*)) => {
        unsafe extern "C" fn $name(vfs: *mut ffi::sqlite3_vfs $(, $arg: $ty)*) -> $ret {
            // SAFETY: the default VFS is called with its own pointer.
            unsafe {
                let default = shared(vfs).default;
                match (*default).$method {
                    Some(method) => method(default $(, $arg)*),
                    None => $fallback,
                }
            }
        }
    };
}

pass!(x_access, xAccess, c_int, ffi::SQLITE_IOERR_ACCESS, (name: *const c_char, flags: c_int, out: *mut c_int));
pass!(x_full_pathname, xFullPathname, c_int, ffi::SQLITE_CANTOPEN, (name: *const c_char, n: c_int, out: *mut c_char));
pass!(x_dl_open, xDlOpen, *mut c_void, std::ptr::null_mut(), (name: *const c_char));
pass!(x_dl_error, xDlError, (), (), (n: c_int, out: *mut c_char));
pass!(x_dl_close, xDlClose, (), (), (handle: *mut c_void));
pass!(x_randomness, xRandomness, c_int, 0, (n: c_int, out: *mut c_char));
pass!(x_sleep, xSleep, c_int, 0, (micros: c_int));
pass!(x_current_time, xCurrentTime, c_int, ffi::SQLITE_ERROR, (out: *mut f64));
pass!(x_get_last_error, xGetLastError, c_int, 0, (n: c_int, out: *mut c_char));
pass!(x_current_time_int64, xCurrentTimeInt64, c_int, ffi::SQLITE_ERROR, (out: *mut ffi::sqlite3_int64));

unsafe extern "C" fn x_dl_sym(
    vfs: *mut ffi::sqlite3_vfs,
    handle: *mut c_void,
    symbol: *const c_char,
) -> Option<unsafe extern "C" fn(*mut ffi::sqlite3_vfs, *mut c_void, *const c_char)> {
    // SAFETY: the default VFS is called with its own pointer.
    unsafe {
        let default = shared(vfs).default;
        match (*default).xDlSym {
            Some(method) => method(default, handle, symbol),
            None => None,
        }
    }
}
