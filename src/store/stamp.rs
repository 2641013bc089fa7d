//! Which version of a file, by its bytes: modification times are too coarse to tell two quick
//! writes apart, and hashing is a millisecond or two where parsing is hundreds. The hash
//! (XXH3) streams: the bytes are stamped as they are read or written, in whatever pieces they
//! come, and no copy of a large file is held to stamp it.

use std::io::{IoSlice, Read, Write};
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

/// A writer that stamps what goes through it. Vectored writes stay vectored, so that a file
/// made of many shared texts is written without first copying them into one buffer.
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

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> std::io::Result<usize> {
        let n = self.inner.write_vectored(bufs)?;
        let mut left = n;
        for buf in bufs {
            let take = left.min(buf.len());
            self.stamper.update(&buf[..take]);
            left -= take;
            if left == 0 {
                break;
            }
        }
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
        let mut w = StampWriter::new(Vec::new());
        w.write_all(&bytes).unwrap();
        let (written, stamp) = w.finish();
        assert_eq!((written, stamp), (bytes.clone(), whole));
        // Vectored, through a writer that takes only part of what it is given each time.
        let slices: Vec<IoSlice> = bytes.chunks(1000).map(IoSlice::new).collect();
        let mut w = StampWriter::new(Trickle(Vec::new()));
        crate::config::write_all_vectored(&mut w, &slices).unwrap();
        let (written, stamp) = w.finish();
        assert_eq!((written.0, stamp), (bytes.clone(), whole));
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

    /// Takes at most 2,500 bytes per vectored write, ending inside a slice.
    struct Trickle(Vec<u8>);

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.write(buf)
        }

        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> std::io::Result<usize> {
            let mut left = 2_500usize;
            let mut n = 0;
            for buf in bufs {
                let take = left.min(buf.len());
                self.0.extend_from_slice(&buf[..take]);
                (left, n) = (left - take, n + take);
                if left == 0 {
                    break;
                }
            }
            Ok(n)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
