//! Writing secrets to disk: private key files readable by their owner only
//! from the moment they exist, in directories only their owner can enter.
//!
//! On Unix a key file is written to a new temporary file created with mode
//! `0600` next to it, synced, then renamed over the target: no other user
//! can ever read the key, a file already at the path (whatever its mode)
//! is replaced rather than written through, and a crash leaves the old key
//! or the new one, never half of one. Directories made for keys get mode
//! `0700`; existing directories are left as they are.

use std::io::{self, Write};
use std::path::Path;

/// Mode of private key files.
pub const KEY_FILE_MODE: u32 = 0o600;

/// Mode of directories made to hold private keys.
pub const KEY_DIR_MODE: u32 = 0o700;

/// Writes a private key (or any secret) to `path`, readable and writable by
/// its owner only. Creates the parent directory with [`create_private_dir`]
/// if it is missing.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    create_private_dir(dir)?;
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(
        ".{}.{:016x}.tmp",
        std::process::id(),
        rand::random::<u64>()
    ));
    let tmp = dir.join(tmp_name);
    let written = create_new_private(&tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    let result = written.and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        // Best effort: the temporary file holds (part of) the secret.
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Creates `dir` if it is missing, with mode `0700` on Unix; its missing
/// parents get the default mode. An existing directory is left unchanged.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(KEY_DIR_MODE);
    }
    match builder.create(dir) {
        // Made meanwhile by someone else: as for any existing directory.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        other => other,
    }
}

/// Creates a file that must not exist yet, with mode `0600` on Unix.
fn create_new_private(path: &Path) -> io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(KEY_FILE_MODE);
    }
    options.open(path)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// Serialises the tests here that set the umask.
    static UMASK_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// Runs `f` with the process umask set to `mask`, restoring it after.
    /// The umask is process-wide: tests elsewhere that create files with a
    /// fixed mode are unaffected by it, others at worst get wider modes
    /// meanwhile.
    #[allow(unsafe_code)]
    fn with_umask<T>(mask: libc::mode_t, f: impl FnOnce() -> T) -> T {
        let _one_at_a_time = UMASK_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: umask only swaps the process's file mode creation mask.
        let old = unsafe { libc::umask(mask) };
        let out = f();
        // SAFETY: as above, restoring the previous mask.
        unsafe { libc::umask(old) };
        out
    }

    #[test]
    fn a_key_is_0600_in_a_0700_directory_even_under_umask_0() {
        let tmp = tempfile::tempdir().unwrap();
        let key = tmp.path().join("msp").join("key.pem");
        with_umask(0, || write_private(&key, b"secret")).unwrap();
        assert_eq!(std::fs::read(&key).unwrap(), b"secret");
        assert_eq!(mode(&key), 0o600);
        assert_eq!(mode(key.parent().unwrap()), 0o700);
        // Nothing else is left next to it.
        let names: Vec<_> = std::fs::read_dir(key.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("key.pem")]);
    }

    #[test]
    fn the_file_is_0600_before_a_byte_is_written() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("fresh");
        let file = with_umask(0, || create_new_private(&path)).unwrap();
        assert_eq!(file.metadata().unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(file.metadata().unwrap().len(), 0);
        // Never through an existing file.
        assert_eq!(
            create_new_private(&path).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
    }

    #[test]
    fn a_key_file_that_exists_readable_by_others_is_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let key = tmp.path().join("key.pem");
        std::fs::write(&key, b"old key, much longer than the new one").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        // Another name for the old file must not receive the new secret.
        let link = tmp.path().join("hardlink");
        std::fs::hard_link(&key, &link).unwrap();
        let old_inode = std::fs::metadata(&key).unwrap().ino();
        write_private(&key, b"new").unwrap();
        assert_eq!(std::fs::read(&key).unwrap(), b"new");
        assert_eq!(mode(&key), 0o600);
        assert_ne!(std::fs::metadata(&key).unwrap().ino(), old_inode);
        assert_eq!(
            std::fs::read(&link).unwrap(),
            b"old key, much longer than the new one"
        );
    }

    #[test]
    fn an_existing_directory_keeps_its_mode() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("shared");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        write_private(&dir.join("tls.key"), b"k").unwrap();
        assert_eq!(mode(&dir), 0o755);
        assert_eq!(mode(&dir.join("tls.key")), 0o600);
    }

    #[test]
    fn a_directory_for_keys_is_0700_and_its_parents_are_not() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("orgs").join("Org1MSP").join("ca");
        with_umask(0o022, || create_private_dir(&dir)).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(dir.parent().unwrap()), 0o755);
        create_private_dir(&dir).unwrap();
        let file = tmp.path().join("file");
        std::fs::write(&file, b"").unwrap();
        assert!(create_private_dir(&file).is_err());
    }
}
