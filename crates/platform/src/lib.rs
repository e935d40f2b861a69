//! The hardware around the softcca card: the operating system's entropy, the host clock, and
//! the card's flash and battery-backed RAM as files in its state directory.
//!
//! State directory layout (default `./softcca-data`; `--home` or `SOFTCCA_HOME` override):
//!
//! ```text
//! <home>/card.lock         held (flock) by the one process that runs the card
//! <home>/card.sock         the daemon's Unix socket
//! <home>/flash/card.state  the card's state (see softcca_card::state), replaced atomically
//! <home>/flash/segment-*   firmware segment images
//! <home>/bbram/storage.key the 32-byte storage key: the battery-backed RAM, kept apart
//! <home>/keystore.db       host key storage (softcca_host::keystore), not the card's
//! ```
//!
//! Files are replaced by write-to-temporary, fsync, rename, fsync of the directory, so a
//! `kill -9` (or a power cut) at any instant leaves the old or the new contents.

#![forbid(unsafe_code)]

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use softcca_card::platform::{BatteryRam, Flash, Platform, SystemClock, valid_blob_name};
use softcca_card::rng::{EntropySource, EntropyUnavailable};
use zeroize::Zeroizing;

/// The environment variable that names the state directory.
pub const HOME_ENV: &str = "SOFTCCA_HOME";
/// The state directory when neither `--home` nor `SOFTCCA_HOME` names one.
pub const DEFAULT_HOME: &str = "softcca-data";
/// The daemon's socket, inside the state directory.
pub const SOCKET_NAME: &str = "card.sock";

/// The state directory: an explicit path, else `$SOFTCCA_HOME`, else `./softcca-data`.
pub fn resolve_home(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    match std::env::var_os(HOME_ENV) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from(DEFAULT_HOME),
    }
}

/// The daemon's socket path in a state directory.
pub fn socket_path(home: &Path) -> PathBuf {
    home.join(SOCKET_NAME)
}

/// The operating system's random number generator, the raw source the card's health tests
/// watch.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsEntropy;

impl EntropySource for OsEntropy {
    fn fill(&self, buf: &mut [u8]) -> Result<(), EntropyUnavailable> {
        getrandom::fill(buf).map_err(|_| EntropyUnavailable)
    }
}

/// A card's state directory, held exclusively by this process while it lives.
#[derive(Debug)]
pub struct StateDir {
    home: PathBuf,
    _lock: File,
}

/// Why a state directory could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// Another process runs this card (a daemon, or an embedded host).
    Busy(PathBuf),
    /// The directory could not be created or read.
    Io(PathBuf, io::Error),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Busy(p) => write!(
                f,
                "the card in {} is already running in another process (connect to its daemon instead)",
                p.display()
            ),
            OpenError::Io(p, e) => write!(f, "{}: {e}", p.display()),
        }
    }
}

impl std::error::Error for OpenError {}

impl StateDir {
    /// Creates the directory if needed and takes its lock.
    pub fn open(home: &Path) -> Result<StateDir, OpenError> {
        let io = |e| OpenError::Io(home.to_path_buf(), e);
        for dir in [home.to_path_buf(), home.join("flash"), home.join("bbram")] {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(io)?;
        }
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(home.join("card.lock"))
            .map_err(io)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(OpenError::Busy(home.to_path_buf())),
            Err(fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        Ok(StateDir {
            home: home.to_path_buf(),
            _lock: lock,
        })
    }

    /// The directory.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The card's platform over this directory: OS entropy, the system clock, and files for
    /// flash and battery-backed RAM.
    pub fn platform(&self) -> Platform {
        Platform {
            entropy: Box::new(OsEntropy),
            clock: Box::new(SystemClock),
            flash: Box::new(FileFlash::new(self.home.join("flash"))),
            bbram: Box::new(FileBatteryRam::new(
                self.home.join("bbram").join("storage.key"),
            )),
        }
    }
}

/// Flash as a directory of files, each replaced atomically.
#[derive(Debug)]
pub struct FileFlash {
    dir: PathBuf,
}

impl FileFlash {
    /// Flash stored in the directory `dir`.
    pub fn new(dir: PathBuf) -> FileFlash {
        FileFlash { dir }
    }

    fn path(&self, name: &str) -> io::Result<PathBuf> {
        if valid_blob_name(name) {
            Ok(self.dir.join(name))
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a flash blob name",
            ))
        }
    }
}

impl Flash for FileFlash {
    fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        read_optional(&self.path(name)?).map(|o| o.map(|z| z.to_vec()))
    }

    fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        replace_atomically(&self.path(name)?, bytes)
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        let path = self.path(name)?;
        match fs::remove_file(&path) {
            Ok(()) => sync_parent(&path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn names(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            if let Some(name) = entry?.file_name().to_str()
                && valid_blob_name(name)
            {
                names.push(name.to_string());
            }
        }
        names.sort();
        Ok(names)
    }
}

/// Battery-backed RAM as one file, apart from flash.
#[derive(Debug)]
pub struct FileBatteryRam {
    path: PathBuf,
}

impl FileBatteryRam {
    /// Battery-backed RAM stored at `path`.
    pub fn new(path: PathBuf) -> FileBatteryRam {
        FileBatteryRam { path }
    }
}

impl BatteryRam for FileBatteryRam {
    fn read(&self) -> io::Result<Option<Zeroizing<Vec<u8>>>> {
        read_optional(&self.path)
    }

    fn write(&self, bytes: &[u8]) -> io::Result<()> {
        replace_atomically(&self.path, bytes)
    }

    fn zeroize(&self) -> io::Result<()> {
        if let Ok(mut f) = OpenOptions::new().write(true).open(&self.path) {
            let len = f.metadata()?.len();
            let zeros = vec![0u8; usize::try_from(len).unwrap_or(0)];
            f.write_all(&zeros)?;
            f.sync_all()?;
        }
        match fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        sync_parent(&self.path)
    }
}

fn read_optional(path: &Path) -> io::Result<Option<Zeroizing<Vec<u8>>>> {
    match File::open(path) {
        Ok(mut f) => {
            let mut buf = Zeroizing::new(Vec::new());
            f.read_to_end(&mut buf)?;
            Ok(Some(buf))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes `bytes` to a temporary file beside `path`, syncs it, renames it over `path` and
/// syncs the directory: after a crash `path` holds the old or the new bytes, never a mix.
pub fn replace_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other("path has no file name"))?;
    // A leading dot keeps temporaries out of `FileFlash::names`.
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp.{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    {
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    sync_parent(path)
}

fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) => File::open(dir)?.sync_all(),
        None => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn second_open_is_busy() {
        let dir = tempfile::tempdir().unwrap();
        let first = StateDir::open(dir.path()).unwrap();
        assert!(matches!(
            StateDir::open(dir.path()),
            Err(OpenError::Busy(_))
        ));
        drop(first);
        StateDir::open(dir.path()).unwrap();
    }

    #[test]
    fn flash_replaces_and_bbram_zeroizes() {
        let dir = tempfile::tempdir().unwrap();
        let flash = FileFlash::new(dir.path().to_path_buf());
        assert!(flash.read("f").unwrap().is_none());
        flash.write("f", b"one").unwrap();
        flash.write("f", b"two").unwrap();
        assert_eq!(flash.read("f").unwrap().unwrap(), b"two");
        assert!(flash.write("../escape", b"x").is_err());
        assert!(flash.write(".tmp", b"x").is_err());
        let bbram = FileBatteryRam::new(dir.path().join("k"));
        bbram.write(&[7u8; 32]).unwrap();
        assert_eq!(&bbram.read().unwrap().unwrap()[..], &[7u8; 32]);
        bbram.zeroize().unwrap();
        assert!(bbram.read().unwrap().is_none());
        assert_eq!(
            flash.names().unwrap(),
            vec!["f".to_string()],
            "no temporaries left"
        );
        flash.remove("f").unwrap();
        assert!(flash.read("f").unwrap().is_none());
    }

    #[test]
    fn os_entropy_fills() {
        let mut a = [0u8; 32];
        OsEntropy.fill(&mut a).unwrap();
        assert_ne!(a, [0u8; 32]);
    }
}
