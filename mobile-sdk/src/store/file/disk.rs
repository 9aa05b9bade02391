//! The file mechanics of [`FileStore`](super::FileStore): a lock beside the file, reads
//! that refuse a file others can read, and atomic writes of a 0600 file through buffers
//! that are wiped afterwards.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, SystemTime};

use zeroize::Zeroizing;

use crate::store::StoreError;

/// Mode of the wallet file: the owner reads and writes, nobody else does anything.
pub const FILE_MODE: u32 = 0o600;
/// How long to wait for another process's change before giving up.
const LOCK_WAIT: Duration = Duration::from_secs(3);
const LOCK_POLL: Duration = Duration::from_millis(10);
/// A lock older than this was left by a process that died mid-write (a write takes
/// milliseconds), so it is broken.
const LOCK_STALE: Duration = Duration::from_secs(30);

fn io_error(path: &Path, what: &str, e: &io::Error) -> StoreError {
    StoreError::Io(format!("{what} {}: {}", path.display(), e.kind()))
}

/// An exclusive lock held for one read-modify-write, so two processes sharing a wallet
/// file (say `qr` and `hce`) can never both spend the same ATC. A lock file rather than
/// `flock`: std's `File::lock` is newer than the workspace's minimum Rust.
pub(crate) struct Lock {
    path: PathBuf,
}

impl Lock {
    pub(crate) fn acquire(wallet: &Path) -> Result<Lock, StoreError> {
        let path = sibling(wallet, ".lock");
        let deadline = SystemTime::now() + LOCK_WAIT;
        loop {
            match OpenOptions::new().write(true).create_new(true).mode(FILE_MODE).open(&path) {
                Ok(_) => return Ok(Lock { path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_error(&path, "cannot create lock", &e)),
            }
            if is_stale(&path) {
                let _ = fs::remove_file(&path);
            } else if SystemTime::now() > deadline {
                return Err(StoreError::Locked(wallet.display().to_string()));
            } else {
                thread::sleep(LOCK_POLL);
            }
        }
    }
}

fn is_stale(path: &Path) -> bool {
    let modified = fs::metadata(path).and_then(|m| m.modified());
    modified.ok().and_then(|t| t.elapsed().ok()).is_some_and(|age| age > LOCK_STALE)
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// `wallet.json` → `wallet.json<suffix>`, in the same directory (so a rename is atomic).
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// The file's bytes, or `None` if it does not exist. Refuses a file that group or others
/// may read or write: it holds the device key.
pub(crate) fn read(path: &Path) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(path, "cannot open", &e)),
    };
    let meta = file.metadata().map_err(|e| io_error(path, "cannot stat", &e))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(StoreError::Permissions { path: path.display().to_string(), mode });
    }
    // Sized up front: a reallocation would leave a copy of the secrets behind.
    let capacity = usize::try_from(meta.len()).unwrap_or(0).saturating_add(1);
    let mut bytes = Zeroizing::new(Vec::with_capacity(capacity));
    file.read_to_end(&mut bytes).map_err(|e| io_error(path, "cannot read", &e))?;
    Ok(Some(bytes))
}

/// Replaces the file with `bytes` atomically: a 0600 temporary file in the same
/// directory, flushed to disk, renamed over the old one, then the directory flushed. A
/// crash leaves either the old file or the new one, never a mix.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = sibling(path, ".tmp");
    // Only the lock holder writes the temporary file; one left by a crash is garbage.
    let _ = fs::remove_file(&tmp);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(&tmp)
        .map_err(|e| io_error(&tmp, "cannot create", &e))?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(io_error(&tmp, "cannot write", &e));
    }
    fs::rename(&tmp, path).map_err(|e| io_error(path, "cannot replace", &e))?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io_error(dir, "cannot flush", &e))
}

/// A `Vec` writer that never leaves a stale copy behind when it grows: it moves to a
/// bigger buffer itself and wipes the old one.
pub(crate) struct ZeroizingWriter(Zeroizing<Vec<u8>>);

impl ZeroizingWriter {
    pub(crate) fn new() -> ZeroizingWriter {
        ZeroizingWriter(Zeroizing::new(Vec::with_capacity(16 * 1024)))
    }

    pub(crate) fn into_inner(self) -> Zeroizing<Vec<u8>> {
        self.0
    }
}

impl Write for ZeroizingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let needed = self.0.len().saturating_add(buf.len());
        if needed > self.0.capacity() {
            let mut bigger = Zeroizing::new(Vec::with_capacity(needed.saturating_mul(2)));
            bigger.extend_from_slice(&self.0);
            self.0 = bigger; // the old buffer is wiped as it drops
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_grows_without_losing_bytes() {
        let mut w = ZeroizingWriter(Zeroizing::new(Vec::with_capacity(2)));
        for chunk in [b"abc".as_slice(), b"defgh", b"", b"i"] {
            w.write_all(chunk).unwrap();
        }
        assert_eq!(w.into_inner().as_slice(), b"abcdefghi");
    }

    #[test]
    fn sibling_keeps_the_directory() {
        assert_eq!(sibling(Path::new("/a/w.json"), ".lock"), Path::new("/a/w.json.lock"));
        assert_eq!(sibling(Path::new("w.json"), ".tmp"), Path::new("w.json.tmp"));
    }
}
