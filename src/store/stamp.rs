//! Which version of a file. A file read is stamped by its bytes: modification times are too
//! coarse to tell two quick writes apart, and hashing is a millisecond or two where parsing is
//! hundreds. The hash (XXH3) streams: the bytes are stamped as they are read, in whatever
//! pieces they come, and no copy of a large file is held to stamp it.
//!
//! A file this process writes is stamped by its metadata instead ([`FileMeta`]), at no cost
//! however large it is: it is written with a modification time in the past, which no later
//! write can leave it with.

use std::io::Read;
use xxhash_rust::xxh3::Xxh3;

/// The length and a hash of a file's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    len: u64,
    hash: u64,
}

/// The size of the reads that stamp a file.
const READ_BLOCK: usize = 256 * 1024;

impl FileStamp {
    pub fn of(bytes: &[u8]) -> Self {
        let mut s = Stamper::default();
        s.update(bytes);
        s.finish()
    }

    /// The stamp of the file at `path` now.
    pub fn read(path: &std::path::Path) -> std::io::Result<Self> {
        let mut file = std::fs::File::open(path)?;
        let mut buf = vec![0; READ_BLOCK];
        let mut s = Stamper::default();
        loop {
            match file.read(&mut buf) {
                Ok(0) => return Ok(s.finish()),
                Ok(n) => s.update(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// A file as this process wrote it, by its metadata: device, inode, length and modification
/// time. Only a file written through [`FileMeta::backdate`] is told apart from every later
/// version this way (see there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMeta {
    dev: u64,
    ino: u64,
    len: u64,
    /// `None` for a file that could not be backdated: no file's metadata equals it.
    modified: Option<(i64, i64)>,
}

/// How far in the past [`FileMeta::backdate`] sets a file's modification time: more than a
/// tick of the kernel's coarse clock and more than the 2-second granularity of the coarsest
/// file systems.
const BACKDATE: std::time::Duration = std::time::Duration::from_secs(3);

impl FileMeta {
    /// The metadata of the file at `path` now (following symlinks, as a read would).
    pub fn of(path: &std::path::Path) -> std::io::Result<Self> {
        std::fs::metadata(path).map(|m| Self::from(&m))
    }

    fn from(m: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self {
            dev: m.dev(),
            ino: m.ino(),
            len: m.size(),
            modified: Some((m.mtime(), m.mtime_nsec())),
        }
    }

    /// Sets the modification time of `file`, written in full, a few seconds in the past, and
    /// returns its metadata. A file's times come from a clock that moves in ticks, so a write
    /// in the same tick as the last one can leave them as they were; but every write after
    /// this call sets a time later than the one set here, so [`FileMeta::of`] the file differs
    /// from then on, even after an edit in place of the same length a moment later. (Renaming
    /// the file changes none of these.) Where the file system cannot set the time, the
    /// metadata returned matches no file: the next look reads the file.
    pub fn backdate(file: &std::fs::File) -> std::io::Result<Self> {
        let now = std::time::SystemTime::now();
        let set = file.set_modified(now.checked_sub(BACKDATE).unwrap_or(now));
        let meta = file.metadata().map(|m| Self::from(&m))?;
        match set {
            Ok(()) => Ok(meta),
            Err(e) => {
                tracing::debug!(error = %e, "cannot set a written file's modification time");
                Ok(Self {
                    modified: None,
                    ..meta
                })
            }
        }
    }
}

/// Stamps bytes given in any pieces.
pub struct Stamper {
    hasher: Box<Xxh3>,
    len: u64,
}

impl Default for Stamper {
    fn default() -> Self {
        Self {
            hasher: Box::new(Xxh3::with_seed(0x7465_6e61_6e74)),
            len: 0,
        }
    }
}

impl Stamper {
    pub fn update(&mut self, bytes: &[u8]) {
        self.len += bytes.len() as u64;
        self.hasher.update(bytes);
    }

    pub fn finish(self) -> FileStamp {
        FileStamp {
            len: self.len,
            hash: self.hasher.digest(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stamp_does_not_depend_on_the_pieces() {
        let block = READ_BLOCK;
        let bytes: Vec<u8> = (0..block * 3 + 123).map(|i| (i * 7 % 251) as u8).collect();
        let whole = FileStamp::of(&bytes);
        for piece in [1, 100, block - 1, block, block + 1, 3 * block] {
            let mut s = Stamper::default();
            for chunk in bytes.chunks(piece) {
                s.update(chunk);
            }
            assert_eq!(s.finish(), whole, "pieces of {piece}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(FileStamp::read(&path).unwrap(), whole);
        // One byte more, or one changed, is another stamp.
        let mut other = bytes.clone();
        other[block + 5] ^= 1;
        assert_ne!(FileStamp::of(&other), whole);
        assert_ne!(FileStamp::of(&bytes[1..]), whole);
    }

    #[test]
    fn a_backdated_file_is_told_apart_from_an_edit_in_place_a_moment_later() {
        use std::io::{Seek, Write};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let before = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        let mut file = std::fs::File::create(&path).unwrap();
        file.write_all(b"name: a\n").unwrap();
        let written = FileMeta::backdate(&file).unwrap();
        drop(file);
        // Earlier than any write from now on can set, whatever the file system's clock
        // (kernels with fine-grained times on a changed file would tell the edit below apart
        // without it; older ones would not).
        let set = written.modified.unwrap();
        assert!(set.0 < before.as_secs() as i64 - 1, "{set:?} vs {before:?}");
        // Renamed into place (as the tenants file is), it is the file as written.
        let path = {
            let placed = dir.path().join("placed");
            std::fs::rename(&path, &placed).unwrap();
            placed
        };
        assert_eq!(FileMeta::of(&path).unwrap(), written);
        // Same inode, same length, within the same tick of the file system's clock: without
        // the backdating, its times would usually be those of the write above.
        let mut file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.seek(std::io::SeekFrom::Start(6)).unwrap();
        file.write_all(b"b").unwrap();
        drop(file);
        assert_eq!(std::fs::read(&path).unwrap(), b"name: b\n");
        assert_ne!(FileMeta::of(&path).unwrap(), written);
        // Another file in its place, or a longer one, differs too.
        let other = dir.path().join("g");
        std::fs::write(&other, b"name: a\n").unwrap();
        assert_ne!(FileMeta::of(&other).unwrap(), written);
        assert!(FileMeta::of(&dir.path().join("missing")).is_err());
        // A file that could not be backdated is never taken for the file as written.
        let unset = FileMeta {
            modified: None,
            ..FileMeta::of(&other).unwrap()
        };
        assert_ne!(FileMeta::of(&other).unwrap(), unset);
    }
}
