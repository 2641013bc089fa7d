//! A tenants file known item by item, by a hash of each item's text: an edit of the file is
//! compared with the version in service item by item, and when only a few items differ,
//! only those are parsed and handed to [`super::load_change`] (the others are the same text,
//! hence the same records). Files the cutter is not sure of, and files with YAML anchors
//! (an item's meaning could then depend on another item's text), are not indexed: their
//! edits are loaded whole.

use super::change::{RecordEdit, EDIT_MAX};
use super::file::TenantFile;
use super::tenants_parse::cut;
use super::RecordText;
use std::hash::BuildHasher;
use std::path::{Path, PathBuf};

/// The items of one tenants file, in order, by the hash of their text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantItems {
    path: PathBuf,
    hashes: Vec<u64>,
}

impl TenantItems {
    /// The items of `text`, the tenants file at `path`; `None` when it cannot be cut into
    /// items or uses anchors.
    pub fn of(path: &Path, text: &str) -> Option<Self> {
        Self::with_starts(path, text).map(|(items, _)| items)
    }

    fn with_starts(path: &Path, text: &str) -> Option<(Self, Vec<usize>)> {
        if text.contains('&') {
            return None;
        }
        let starts = cut(text)?;
        let hashes = (0..starts.len())
            .map(|i| hash(item(text, &starts, i)))
            .collect();
        let items = Self {
            path: path.to_path_buf(),
            hashes,
        };
        Some((items, starts))
    }

    /// The items of the tenants file at `path` written as `texts` (each record's text, as
    /// [`super::join_record_texts`] joins them): each text is one item.
    pub fn from_texts(path: &Path, texts: &[RecordText]) -> Option<Self> {
        if texts.is_empty() || texts.iter().any(|t| t.contains('&')) {
            return None;
        }
        Some(Self {
            path: path.to_path_buf(),
            hashes: texts.iter().map(|t| hash(t)).collect(),
        })
    }

    /// The items of `text` ([`Self::of`]), with each item's text when `text` is `head`
    /// followed by its items at the start of a line (the layout the admin API writes): the
    /// texts a writer can keep for the records it does not change.
    pub fn with_texts(
        path: &Path,
        text: &std::sync::Arc<String>,
        head: &str,
    ) -> Option<(Self, Option<Vec<RecordText>>)> {
        let (items, starts) = Self::with_starts(path, text)?;
        let texts = Some(&starts)
            .filter(|s| s.first().and_then(|first| text.get(..*first)) == Some(head))
            .and_then(|s| {
                (0..s.len())
                    .map(|i| RecordText::piece(text, item_range(text, s, i)))
                    .collect::<Option<Vec<_>>>()
            })
            // Each a whole item a text can follow: at the start of a line, ending its last
            // line.
            .filter(|texts| {
                texts
                    .iter()
                    .all(|t| t.starts_with('-') && t.ends_with('\n'))
            });
        Some((items, texts))
    }

    /// These items (of written texts, [`Self::from_texts`]) after the `removed` texts at
    /// `start` are replaced by `added`: what `from_texts` gives for the new texts, without
    /// hashing the unchanged ones again.
    pub fn spliced(&self, start: usize, removed: usize, added: &[RecordText]) -> Option<Self> {
        let end = start
            .checked_add(removed)
            .filter(|end| *end <= self.hashes.len())?;
        if added.iter().any(|t| t.contains('&')) {
            return None;
        }
        let mut hashes = Vec::with_capacity(self.hashes.len() - removed + added.len());
        hashes.extend_from_slice(&self.hashes[..start]);
        hashes.extend(added.iter().map(|t| hash(t)));
        hashes.extend_from_slice(&self.hashes[end..]);
        (!hashes.is_empty()).then(|| Self {
            path: self.path.clone(),
            hashes,
        })
    }

    /// The file these items are from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many items.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// The edit that turns these items' records into those of `text` (the same file, edited),
    /// with the items of `text`: the items whose text differs, as one run, parsed. `None`
    /// when `text` cannot be indexed, more than [`EDIT_MAX`] items differ, or the changed
    /// items do not parse alone (a full load then says why).
    pub fn edit_to(&self, text: &str) -> Option<(RecordEdit, TenantItems)> {
        let (next, starts) = Self::with_starts(&self.path, text)?;
        let (old, new) = (&self.hashes, &next.hashes);
        let (same_head, same_tail) = super::change::common_ends(old, new, |a, b| a == b);
        let removed = old.len() - same_head - same_tail;
        let added = new.len() - same_head - same_tail;
        if removed > EDIT_MAX || added > EDIT_MAX {
            return None;
        }
        let records = if added == 0 {
            Vec::new()
        } else {
            let from = starts[same_head];
            let to = starts.get(same_head + added).copied().unwrap_or(text.len());
            let parsed: Vec<TenantFile> = serde_norway::from_str(&text[from..to]).ok()?;
            // Each item is one record: a run that parses into another count was not cut
            // where the parser would have cut it.
            if parsed.len() != added {
                return None;
            }
            parsed
        };
        let edit = RecordEdit {
            start: same_head,
            removed,
            added: records,
        };
        Some((edit, next))
    }
}

/// The text of item `i` (up to the next item, or the end of the file).
fn item<'a>(text: &'a str, starts: &[usize], i: usize) -> &'a str {
    &text[item_range(text, starts, i)]
}

fn item_range(text: &str, starts: &[usize], i: usize) -> std::ops::Range<usize> {
    starts[i]..starts.get(i + 1).copied().unwrap_or(text.len())
}

fn hash(item: &str) -> u64 {
    foldhash::quality::FixedState::with_seed(0x0069_7465_6d73).hash_one(item.as_bytes())
}

#[cfg(test)]
#[path = "tenant_items_tests.rs"]
mod tests;
