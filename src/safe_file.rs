//! Writing files without being tricked by what is already on disk: the one
//! place where the SDK, and the `datafold` CLI built on it, create, reopen,
//! replace and remove the files they write (an export's output, its
//! `.partial` file and checkpoint, state files).
//!
//! The rules, for every such file:
//!
//! - **Never through a symbolic link, never into anything but a regular
//!   file.** A path is inspected with `lstat` (the link itself, not what it
//!   points to): a symbolic link, a directory, a device node, a FIFO or a
//!   socket is refused with [`Error::UnsafeFile`], which names the path.
//! - **A read-only target is refused**, not silently replaced: a file with no
//!   write permission bit (checked on the bits, so that this holds for root
//!   too), or one this process may not open for writing. A writable target
//!   that is replaced keeps its permission bits.
//! - **Temporary files are created exclusively** (`O_EXCL`, std's
//!   `create_new`) in the target's own directory, under an unpredictable
//!   name: a file or link planted under any fixed name is never written.
//! - **An existing file is reopened without following links**
//!   (`O_NOFOLLOW`, and `O_NONBLOCK` so that a FIFO swapped in cannot hang
//!   the open) and checked again on the open handle: still a regular file,
//!   the very one (device and inode) that was inspected, with no other hard
//!   link to it.
//! - **Nothing reaches its final name before it is complete**: a file is
//!   synced, then renamed over its target, then the directory is synced so
//!   that the rename survives a crash.
//!
//! Check targets with [`check_target`] before any network work, so that a bad
//! path fails at once, before a request is sent or a file is left behind.
//!
//! The parent directories of a path are trusted: only its last component is
//! inspected.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Check that `path` may be written, without touching it: nothing is there
/// (`Ok(None)`), or a regular file this process may write (its permissions,
/// to keep when it is replaced).
///
/// # Errors
/// [`Error::UnsafeFile`] for a symbolic link, a directory, any other
/// non-regular file, or a read-only file; [`Error::Output`] when the path
/// cannot be inspected.
pub fn check_target(path: &Path) -> Result<Option<Permissions>> {
    let metadata = match fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_failure("inspect", path, e)),
    };
    check_kind(path, &metadata)?;
    refuse_read_only(path, &metadata)?;
    // The bits allow writing; so must the file system and this user (who,
    // unless root, may not own the file). Opening without truncating tells.
    let probe = open_options(false, true).open(path);
    match probe {
        Ok(file) => same_file(path, &metadata, &file).map(|()| Some(metadata.permissions())),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Err(unsafe_file(
            path,
            "this user may not write it; choose another path".into(),
        )),
        Err(e) => Err(refusal_or_failure("open", path, e)),
    }
}

/// Create the file at `path`, for reading and writing, exclusively: if
/// anything is there, even a dangling symbolic link, nothing is opened.
///
/// # Errors
/// [`Error::UnsafeFile`] when something is already at `path`;
/// [`Error::Output`] when it cannot be created (no such directory, no space).
pub fn create_new(path: &Path) -> Result<File> {
    let mut options = open_options(true, true);
    options.create_new(true);
    options.open(path).map_err(|e| match e.kind() {
        io::ErrorKind::AlreadyExists => unsafe_file(
            path,
            "something was created at this path meanwhile; remove it or choose another path".into(),
        ),
        _ => io_failure("create", path, e),
    })
}

/// Open the existing regular file at `path` to read it, without following a
/// symbolic link, and check on the open handle that it is the regular file
/// that was inspected. A FIFO or device is never opened (it could block).
///
/// # Errors
/// [`Error::InputFile`] for a symbolic link, a non-regular file, one
/// replaced while it was opened, or one that cannot be opened (it does not
/// exist, for one).
pub fn open_to_read(path: &Path) -> Result<File> {
    open_existing(path, false)
}

/// Open the existing regular file at `path` to read and write it (to append
/// to it, or cut it back), without following a symbolic link, and check on
/// the open handle that it is the regular file that was inspected, with no
/// other hard link.
///
/// # Errors
/// [`Error::UnsafeFile`] for a symbolic link, a non-regular, read-only or
/// hard-linked file, or one replaced while it was opened; [`Error::Output`]
/// when it cannot be opened (it does not exist, for one).
pub fn open_to_update(path: &Path) -> Result<File> {
    open_existing(path, true)
}

fn open_existing(path: &Path, write: bool) -> Result<File> {
    let before = fs::symlink_metadata(path).map_err(|e| {
        if write {
            io_failure("open", path, e)
        } else {
            read_failure(path, e)
        }
    })?;
    if !write {
        return open_input(path, &before);
    }
    check_kind(path, &before)?;
    refuse_read_only(path, &before)?;
    let file = open_options(true, write)
        .open(path)
        .map_err(|e| refusal_or_failure("open", path, e))?;
    same_file(path, &before, &file)?;
    if write {
        refuse_hard_links(path, &file)?;
    }
    Ok(file)
}

/// Replace the file at `path` with `contents`, atomically: written to an
/// exclusive temporary file beside it, synced, renamed over it, and the
/// directory synced. A crash leaves the old file or the new one, never half
/// of one. A replaced file keeps its permissions; a new one is readable by
/// its owner only.
///
/// # Errors
/// As [`check_target`] for `path`; [`Error::Output`] when writing fails.
pub fn write_atomically(path: &Path, contents: &[u8]) -> Result<()> {
    let keep = check_target(path)?;
    let name = file_name(path)?;
    let dir = parent_dir(path);
    let mut temp = TempFile::beside(dir, name)
        .map_err(|e| io_failure("create a temporary file for", path, e))?;
    let write = |file: &mut File| -> io::Result<()> {
        file.write_all(contents)?;
        if let Some(permissions) = keep {
            file.set_permissions(permissions)?;
        }
        file.sync_all()
    };
    write(&mut temp.file).map_err(|e| io_failure("write", &temp.path, e))?;
    // On failure the temporary file is dropped, and so removed.
    temp.persist(path)
        .map_err(|e| io_failure("rename a temporary file over", path, e))?;
    sync_dir(dir).map_err(|e| io_failure("sync the directory of", path, e))
}

/// An exclusively created temporary file, `.NAME.<random>.tmp` beside the
/// file it will replace, readable by its owner only; removed when dropped
/// unless [`TempFile::persist`] renamed it into place.
struct TempFile {
    path: PathBuf,
    file: File,
    persisted: bool,
}

impl TempFile {
    /// Create one in `dir` for the file `name`. `create_new` is `O_EXCL`:
    /// nothing there, a symbolic link included, is ever opened or followed.
    fn beside(dir: &Path, name: &std::ffi::OsStr) -> io::Result<Self> {
        let mut last = None;
        for _ in 0..16 {
            let mut candidate = std::ffi::OsString::from(".");
            candidate.push(name);
            candidate.push(format!(".{}.tmp", random_suffix()));
            let path = dir.join(candidate);
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            match options.open(&path) {
                Ok(file) => {
                    return Ok(Self {
                        path,
                        file,
                        persisted: false,
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("no free temporary name")))
    }

    /// Rename it over `to`.
    fn persist(mut self, to: &Path) -> io::Result<()> {
        fs::rename(&self.path, to)?;
        self.persisted = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.persisted {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Six letters and digits nobody can guess ahead (about 35 bits; a name
/// taken is tried again, so they need not be unique, only unpredictable).
/// Short, so `.NAME.XXXXXX.tmp` is 12 bytes longer than `NAME`: a name
/// close to the 255-byte limit of a directory entry still has one.
fn random_suffix() -> String {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut bits = unpredictable();
    (0..6)
        .map(|_| {
            let letter = ALPHABET[(bits % 62) as usize];
            bits /= 62;
            char::from(letter)
        })
        .collect()
}

/// 64 bits nobody can guess ahead: std's `RandomState` keys come from the
/// operating system's randomness, mixed with a counter, the time and the pid.
fn unpredictable() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    hasher.write_u128(now.map_or(0, |d| d.as_nanos()));
    hasher.write_u32(std::process::id());
    hasher.finish()
}

/// Move the complete file `from`, open as `file`, to its final name `to`:
/// `to` is checked as by [`check_target`] and its permissions given to
/// `file`, `file` is synced, `from` is checked to still be `file`, then
/// renamed, and the directory synced.
///
/// # Errors
/// As [`check_target`] for `to`; [`Error::UnsafeFile`] when `from` is no
/// longer `file`; [`Error::Output`] when syncing or renaming fails.
pub fn move_into_place(file: &File, from: &Path, to: &Path) -> Result<()> {
    if let Some(permissions) = check_target(to)? {
        file.set_permissions(permissions)
            .map_err(|e| io_failure("set the permissions of", from, e))?;
    }
    file.sync_all().map_err(|e| io_failure("sync", from, e))?;
    let now = fs::symlink_metadata(from).map_err(|e| io_failure("inspect", from, e))?;
    same_file(from, &now, file)?;
    fs::rename(from, to)
        .map_err(|e| io_failure(&format!("rename {} to", from.display()), to, e))?;
    sync_dir(parent_dir(to)).map_err(|e| io_failure("sync the directory of", to, e))
}

/// Remove the file at `path` if there is one. A symbolic link is removed
/// itself, never what it points to.
///
/// # Errors
/// [`Error::Output`] when it is there and cannot be removed (a directory, for
/// one).
pub fn remove(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_failure("remove", path, e)),
    }
}

/// Read the regular file at `path` (not through a symbolic link), at most
/// `cap` bytes of it.
///
/// # Errors
/// As [`open_to_read`]; [`Error::InputFile`] when the file is longer than
/// `cap`, or reading it fails.
pub fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>> {
    let file = open_to_read(path)?;
    let mut contents = Vec::new();
    file.take(cap.saturating_add(1))
        .read_to_end(&mut contents)
        .map_err(|e| read_failure(path, e))?;
    if contents.len() as u64 > cap {
        return Err(input_file(
            path,
            format!(
                "it is longer than {cap} bytes, more than such a file can be; give the right \
                 file"
            ),
        ));
    }
    Ok(contents)
}

/// Sync a directory, so that a rename or removal in it survives a crash.
///
/// # Errors
/// The I/O error.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    // Elsewhere a directory cannot be opened as a file; renames are as
    // durable as the file system makes them.
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// The directory a file at `path` lives in (`.` for a bare name).
pub fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// The last component of `path`, which must be a file name.
///
/// # Errors
/// [`Error::UnsafeFile`] for a path such as `/` or `dir/..`.
pub fn file_name(path: &Path) -> Result<&std::ffi::OsStr> {
    path.file_name()
        .ok_or_else(|| unsafe_file(path, "it does not end in a file name".into()))
}

/// Read-write (or read-only) options that never follow a symbolic link and
/// never wait on a FIFO.
fn open_options(read: bool, write: bool) -> OpenOptions {
    let mut options = OpenOptions::new();
    options.read(read).write(write);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    options
}

/// Open the file `inspected` describes to read it: a regular file, not
/// through a symbolic link, still the same file once open.
fn open_input(path: &Path, inspected: &fs::Metadata) -> Result<File> {
    let refused = |metadata: &fs::Metadata| {
        let kind = metadata.file_type();
        if kind.is_symlink() {
            Some("it is a symbolic link, which is not followed; give the path of the file itself")
        } else if kind.is_dir() {
            Some("it is a directory; give the path of a file")
        } else if !kind.is_file() {
            Some(
                "it is not a regular file (a FIFO, device or socket, which could block or never \
                 end); give the path of a regular file",
            )
        } else {
            None
        }
    };
    if let Some(reason) = refused(inspected) {
        return Err(input_file(path, reason.into()));
    }
    let file = open_options(true, false).open(path).map_err(|e| {
        #[cfg(unix)]
        if e.raw_os_error() == Some(libc::ELOOP) {
            return input_file(
                path,
                "it is a symbolic link, which is not followed; give the path of the file itself"
                    .into(),
            );
        }
        read_failure(path, e)
    })?;
    let opened = file.metadata().map_err(|e| read_failure(path, e))?;
    if let Some(reason) = refused(&opened) {
        return Err(input_file(path, reason.into()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if (opened.dev(), opened.ino()) != (inspected.dev(), inspected.ino()) {
            return Err(input_file(
                path,
                "it was replaced while it was being opened; check who else writes there".into(),
            ));
        }
    }
    Ok(file)
}

fn input_file(path: &Path, reason: String) -> Error {
    Error::InputFile {
        path: PathBuf::from(path),
        reason,
    }
}

fn read_failure(path: &Path, error: io::Error) -> Error {
    let hint = match error.kind() {
        io::ErrorKind::NotFound => "check the path",
        io::ErrorKind::PermissionDenied => "check that this user may read it",
        _ => "check the file and the disk",
    };
    input_file(path, format!("{error}; {hint}"))
}

/// A symbolic link or a non-regular file is never written.
fn check_kind(path: &Path, metadata: &fs::Metadata) -> Result<()> {
    let kind = metadata.file_type();
    let refused = if kind.is_symlink() {
        "it is a symbolic link, and files are never written through one; remove the link \
         or choose another path"
    } else if kind.is_dir() {
        "it is a directory; give the path of a file (inside it, for instance)"
    } else if !kind.is_file() {
        "it is not a regular file (a device, FIFO or socket); choose the path of a regular file"
    } else {
        return Ok(());
    };
    Err(unsafe_file(path, refused.into()))
}

/// No write permission bit: refused even for root, who could write it.
fn refuse_read_only(path: &Path, metadata: &fs::Metadata) -> Result<()> {
    if !metadata.permissions().readonly() {
        return Ok(());
    }
    #[cfg(unix)]
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        format!(" (mode {:o})", metadata.permissions().mode() & 0o7777)
    };
    #[cfg(not(unix))]
    let mode = String::new();
    Err(unsafe_file(
        path,
        format!("it is read-only{mode}; make it writable (chmod u+w) or choose another path"),
    ))
}

/// The open `file` is the one `inspected` describes, and still a regular file.
fn same_file(path: &Path, inspected: &fs::Metadata, file: &File) -> Result<()> {
    let opened = file
        .metadata()
        .map_err(|e| io_failure("inspect", path, e))?;
    check_kind(path, &opened)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if (opened.dev(), opened.ino()) != (inspected.dev(), inspected.ino()) {
            return Err(unsafe_file(
                path,
                "it was replaced while it was being opened; check who else writes there".into(),
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = inspected;
    Ok(())
}

/// A file with another hard link is shared with another name: changing it
/// would change that file too.
fn refuse_hard_links(path: &Path, file: &File) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let links = file
            .metadata()
            .map_err(|e| io_failure("inspect", path, e))?
            .nlink();
        if links > 1 {
            return Err(unsafe_file(
                path,
                format!(
                    "it has {links} hard links, so changing it would change another file; \
                     remove it or choose another path"
                ),
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = (path, file);
    Ok(())
}

/// An open that failed because of what is at the path (a link, which
/// `O_NOFOLLOW` refuses with `ELOOP`) is a refusal; anything else a failure.
fn refusal_or_failure(what: &str, path: &Path, error: io::Error) -> Error {
    #[cfg(unix)]
    if error.raw_os_error() == Some(libc::ELOOP) {
        return unsafe_file(
            path,
            "it is a symbolic link, and files are never written through one; remove the link \
             or choose another path"
                .into(),
        );
    }
    io_failure(what, path, error)
}

fn unsafe_file(path: &Path, reason: String) -> Error {
    Error::UnsafeFile {
        path: PathBuf::from(path),
        reason,
    }
}

fn io_failure(what: &str, path: &Path, error: io::Error) -> Error {
    Error::Output {
        what: format!("{what} {}", path.display()),
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_files_are_exclusive_private_and_gone_unless_persisted() {
        let dir = std::env::temp_dir().join(format!("df-temp-{:x}", unpredictable()));
        fs::create_dir(&dir).unwrap();
        let name = std::ffi::OsStr::new("state.json");
        let a = TempFile::beside(&dir, name).unwrap();
        let b = TempFile::beside(&dir, name).unwrap();
        assert_ne!(a.path, b.path);
        let a_name = a.path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            a_name.starts_with(".state.json.") && a_name.ends_with(".tmp"),
            "{a_name}"
        );
        assert_eq!(a_name.len(), "state.json".len() + 12, "{a_name}");
        // The longest name that leaves room for its temporary file (255 bytes
        // in all) still gets one.
        let long = TempFile::beside(&dir, std::ffi::OsStr::new(&"n".repeat(243))).unwrap();
        drop(long);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&a.path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let dropped = b.path.clone();
        drop(b);
        assert!(!dropped.exists(), "a dropped temporary file is removed");
        let target = dir.join("state.json");
        a.persist(&target).unwrap();
        let left: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, [std::ffi::OsString::from("state.json")]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
