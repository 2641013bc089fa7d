//! Which version of a file, by its bytes: modification times are too coarse to tell two quick
//! writes apart, and hashing is a few milliseconds where parsing is hundreds. The bytes are
//! hashed in fixed blocks as they are read or written, so that no copy of a large file is
//! held to stamp it.

use std::hash::{BuildHasher, Hasher};
use std::io::{Read, Write};

/// The length and a hash of a file's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    len: u64,
    hash: u64,
}

/// The bytes are hashed `BLOCK` at a time, whatever pieces they arrive in.
const BLOCK: usize = 64 * 1024;

impl FileStamp {
    pub fn of(bytes: &[u8]) -> Self {
        let mut s = Stamper::default();
        s.update(bytes);
        s.finish()
    }

    /// The stamp of the file at `path` now.
    pub fn read(path: &std::path::Path) -> std::io::Result<Self> {
        let mut file = std::fs::File::open(path)?;
        let mut buf = vec![0; BLOCK];
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

/// Stamps bytes given in any pieces.
pub struct Stamper {
    hasher: foldhash::quality::FoldHasher<'static>,
    /// The start of a block that arrived in pieces.
    partial: Vec<u8>,
    len: u64,
}

impl Default for Stamper {
    fn default() -> Self {
        Self {
            hasher: foldhash::quality::FixedState::with_seed(0x7465_6e61_6e74).build_hasher(),
            partial: Vec::new(),
            len: 0,
        }
    }
}

impl Stamper {
    pub fn update(&mut self, mut bytes: &[u8]) {
        self.len += bytes.len() as u64;
        if !self.partial.is_empty() {
            let take = (BLOCK - self.partial.len()).min(bytes.len());
            self.partial.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.partial.len() < BLOCK {
                return;
            }
            self.hasher.write(&self.partial);
            self.partial.clear();
        }
        let mut blocks = bytes.chunks_exact(BLOCK);
        for block in &mut blocks {
            self.hasher.write(block);
        }
        self.partial.extend_from_slice(blocks.remainder());
    }

    pub fn finish(mut self) -> FileStamp {
        if !self.partial.is_empty() {
            self.hasher.write(&self.partial);
        }
        FileStamp {
            len: self.len,
            hash: self.hasher.finish(),
        }
    }
}

/// A writer that stamps what goes through it.
pub struct StampWriter<W> {
    inner: W,
    stamper: Stamper,
}

impl<W: Write> StampWriter<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            stamper: Stamper::default(),
        }
    }

    /// The inner writer and the stamp of everything written.
    pub fn finish(self) -> (W, FileStamp) {
        (self.inner, self.stamper.finish())
    }
}

impl<W: Write> Write for StampWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.stamper.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stamp_does_not_depend_on_the_pieces() {
        let bytes: Vec<u8> = (0..BLOCK * 3 + 123).map(|i| (i * 7 % 251) as u8).collect();
        let whole = FileStamp::of(&bytes);
        for piece in [1, 100, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK] {
            let mut s = Stamper::default();
            for chunk in bytes.chunks(piece) {
                s.update(chunk);
            }
            assert_eq!(s.finish(), whole, "pieces of {piece}");
        }
        let mut w = StampWriter::new(Vec::new());
        w.write_all(&bytes).unwrap();
        let (written, stamp) = w.finish();
        assert_eq!((written, stamp), (bytes.clone(), whole));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(FileStamp::read(&path).unwrap(), whole);
        // One byte more, or one changed, is another stamp.
        let mut other = bytes.clone();
        other[BLOCK + 5] ^= 1;
        assert_ne!(FileStamp::of(&other), whole);
        assert_ne!(FileStamp::of(&bytes[1..]), whole);
    }
}
