//! The tenants file an admin API change writes: each record's text and the items of those
//! texts (kept from the last write, so that a change emits and hashes only its own records),
//! and the new file written and synced beside the old one, then renamed into place. The file
//! is stamped by its metadata, backdated (see [`FileMeta::backdate`]): neither this write nor
//! the checks before the next one hash its bytes.

use super::records::Records;
use super::stamp::FileMeta;
use super::ChangeError;
use crate::config;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

/// Each record's text in the tenants file, in order.
pub(super) type Texts = Arc<Vec<config::RecordText>>;

/// The file a change writes: each record's text, and the items of those texts.
pub(super) struct Written {
    pub(super) texts: Texts,
    pub(super) items: Option<Arc<config::TenantItems>>,
}

impl Written {
    /// The file of `records` at `path`: when `before` was written for the records `diff` is
    /// from, only the records it adds are emitted and hashed.
    pub(super) fn after(
        path: &std::path::Path,
        records: &Records,
        before: Option<Written>,
        diff: Option<config::RecordEdit>,
    ) -> Result<Written, ChangeError> {
        let emitted = |e: serde_norway::Error| ChangeError::Io(std::io::Error::other(e));
        let (Some(before), Some(d)) = (before, diff) else {
            let texts = config::record_texts(&records.all()?).map_err(emitted)?;
            let items = config::TenantItems::from_texts(path, &texts).map(Arc::new);
            return Ok(Written {
                texts: Arc::new(texts),
                items,
            });
        };
        let added = d
            .added
            .iter()
            .map(config::record_text)
            .collect::<Result<Vec<_>, _>>()
            .map_err(emitted)?;
        let mut texts = Vec::with_capacity(records.len());
        texts.extend_from_slice(&before.texts[..d.start]);
        texts.extend_from_slice(&added);
        texts.extend_from_slice(&before.texts[d.start + d.removed..]);
        let items = match &before.items {
            Some(items) => items.spliced(d.start, d.removed, &added),
            None => config::TenantItems::from_texts(path, &texts),
        };
        Ok(Written {
            texts: Arc::new(texts),
            items: items.map(Arc::new),
        })
    }
}

/// The first line of a tenants file the admin API writes.
const HEADER: &str = "# Written by the tenant-gateway admin API.\n";

/// What comes before the first record in a tenants file the admin API writes.
pub(super) fn head() -> String {
    format!("{HEADER}tenants:\n")
}

/// A new tenants file, written and synced beside the one it replaces until
/// [`Staged::commit`] renames it into place.
pub(super) struct Staged {
    tmp: PathBuf,
    path: PathBuf,
    meta: FileMeta,
}

impl Staged {
    /// Writes the tenants file of `texts` for `path` to a temporary file beside it, text by
    /// text (no copy of the whole file is made), and syncs it.
    pub(super) fn write(
        path: &std::path::Path,
        texts: &[config::RecordText],
    ) -> std::io::Result<Staged> {
        let dir = path.parent().unwrap_or(std::path::Path::new("."));
        let tmp = dir.join(format!(
            ".{}.tmp",
            path.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("tenants")
        ));
        let written = (|| {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(HEADER.as_bytes())?;
            config::write_record_texts(&mut file, texts)?;
            let meta = FileMeta::backdate(&file)?;
            file.sync_all()?;
            Ok(meta)
        })();
        match written {
            Ok(meta) => Ok(Staged {
                tmp,
                path: path.to_path_buf(),
                meta,
            }),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// Renames the file into place; returns its metadata as written.
    pub(super) fn commit(self) -> std::io::Result<FileMeta> {
        // The replaced file is held open across the rename, so that freeing its pages happens
        // when the reclaim thread closes it, not inside the rename.
        let replaced = std::fs::File::open(&self.path).ok();
        std::fs::rename(&self.tmp, &self.path)?;
        crate::reclaim::later(replaced);
        Ok(self.meta)
    }

    /// Removes the file: the change it holds was refused.
    pub(super) fn discard(self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
}
