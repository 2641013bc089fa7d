//! What the admin API's writer holds of the tenants file: the records (parsed only as asked
//! for when the version in service was loaded from the file as it is, see `records`), with
//! each record's text and the items of those texts, kept for a minute after a change with the
//! file's stamp so that a burst of changes reads the file once (and, once this writer wrote
//! it, not at all: see [`FileMeta::backdate`]).

use super::records::Records;
use super::stamp::{FileMeta, FileStamp};
use super::tenants_written::{head, Texts, Written};
use super::{ChangeError, Reloader};
use crate::config;
use std::sync::Arc;

/// The tenants file as the writer last read or wrote it.
#[derive(Clone)]
pub(super) struct TenantsFileSource {
    reloader: Arc<Reloader>,
    known: Arc<std::sync::Mutex<Option<Known>>>,
}

/// How long the records of the last change are kept for the next one.
const KEEP_RECORDS: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(Clone)]
struct Known {
    version: FileVersion,
    held: Held,
    /// Which `remember` put them there (the expiry of an older one leaves them alone).
    generation: u64,
}

/// Which version of the tenants file the writer holds.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum FileVersion {
    /// Read: stamped by its bytes.
    Read(FileStamp),
    /// Written by this writer: stamped by its metadata.
    Written(FileMeta),
}

impl FileVersion {
    /// Whether the file at `path` is still this version.
    fn is_current(&self, path: &std::path::Path) -> std::io::Result<bool> {
        Ok(match self {
            FileVersion::Read(stamp) => FileStamp::read(path)? == *stamp,
            FileVersion::Written(meta) => FileMeta::of(path)? == *meta,
        })
    }
}

/// What the writer holds of the tenants file.
#[derive(Clone)]
pub(super) struct Held {
    pub(super) records: Arc<Records>,
    /// The configuration generation that serves exactly these records, when this writer
    /// applied them: the next change can then be validated against it alone.
    pub(super) serving: Option<u64>,
    /// Each record's text in the file, when this writer wrote it: the next write emits only
    /// the changed records.
    pub(super) texts: Option<Texts>,
    /// The items of those texts (when they can be indexed): the next write hashes only the
    /// changed records' texts for the reloader's index.
    pub(super) items: Option<Arc<config::TenantItems>>,
}

impl Held {
    /// What this writer wrote last, when it wrote the file it holds the records of.
    pub(super) fn written(&self) -> Option<Written> {
        let texts = self.texts.clone()?;
        (texts.len() == self.records.len()).then(|| Written {
            texts,
            items: self.items.clone(),
        })
    }
}

impl TenantsFileSource {
    pub(super) fn new(reloader: Arc<Reloader>) -> Self {
        Self {
            reloader,
            known: Arc::new(std::sync::Mutex::new(None)),
        }
    }

    /// The tenants file's records, with what is known of them.
    pub(super) fn held(&self, path: &std::path::Path) -> Result<Held, ChangeError> {
        // Usually the file last written: its metadata tells, without reading it.
        let known = self.known.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(k) = known {
            if k.version.is_current(path).map_err(ChangeError::Io)? {
                return Ok(k.held);
            }
        }
        let bytes = std::fs::read(path).map_err(ChangeError::Io)?;
        let stamp = FileStamp::of(&bytes);
        // Shared by the texts of the records (pieces of it, not copies).
        let text = Arc::new(String::from_utf8(bytes).map_err(|e| {
            ChangeError::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, e))
        })?);
        let (items, texts) = match config::TenantItems::with_texts(path, &text, &head()) {
            Some((items, texts)) => (Some(items), texts.map(Arc::new)),
            None => (None, None),
        };
        let serving = items.as_ref().and_then(|i| self.reloader.serves_items(i));
        // The version in service was loaded from this very file (as after a start, or once the
        // records of the last change are dropped) in the layout this writer keeps: each record
        // is parsed only when a change or a read asks for it.
        let base = self.reloader.current();
        let unparsed = match (&texts, serving) {
            (Some(texts), Some(g)) if g == base.generation => {
                Records::unparsed(texts, &base.routing.tenants)
            }
            _ => None,
        };
        let records = match unparsed {
            Some(records) => records,
            None => config::parse_tenants(path, &text)
                .map_err(ChangeError::Invalid)?
                .tenants
                .into_iter()
                .collect(),
        };
        // When the version in service was loaded from this file, the first change is
        // validated alone too; when this writer's layout, the file's own texts are kept for
        // the records a change leaves alone.
        let items = items.filter(|i| i.len() == records.len());
        let held = Held {
            serving: serving.filter(|_| items.is_some()),
            texts: texts.filter(|t| t.len() == records.len()),
            items: items.map(Arc::new),
            records: Arc::new(records),
        };
        self.remember(FileVersion::Read(stamp), &held);
        Ok(held)
    }

    pub(super) fn remember(&self, version: FileVersion, held: &Held) {
        let (generation, before) = {
            let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
            let generation = known.as_ref().map_or(0, |k| k.generation + 1);
            let before = known.replace(Known {
                version,
                held: held.clone(),
                generation,
            });
            (generation, before)
        };
        // A list of every record: freed off the admin API's way.
        crate::reclaim::later(before);
        // Dropped a while after the last change (outside a runtime, e.g. a test: kept).
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let known = Arc::downgrade(&self.known);
        runtime.spawn(async move {
            tokio::time::sleep(KEEP_RECORDS).await;
            if let Some(known) = known.upgrade() {
                let mut known = known.lock().unwrap_or_else(|e| e.into_inner());
                if known.as_ref().is_some_and(|k| k.generation == generation) {
                    *known = None;
                }
            }
        });
    }
}
