//! Tenant records as the admin API changes them. Each record is either parsed or still the
//! text of its item in the tenants file, beside the tenant in service that was made from that
//! text: such a record is parsed only when a change or a read asks for it. A change to one
//! tenant of a file the version in service was loaded from parses that tenant alone.

use crate::config::file::TenantFile;
use crate::config::{self, TenantSpec};
use std::sync::{Arc, OnceLock};
use uuid::Uuid;

use super::tenants_written::Texts;
use super::ChangeError;

/// Tenant records, in the order of the tenant source. Clones share every record, so a
/// change copies the list, not the records, and the records it did not touch are told apart
/// by pointer.
#[derive(Clone, Default)]
pub struct Records {
    slots: Vec<Slot>,
}

#[derive(Clone)]
enum Slot {
    Parsed(Arc<TenantFile>),
    /// Record `.1` of a file's records not parsed yet.
    Text(Arc<Unparsed>, usize),
}

/// A tenants file's records not parsed yet: each item's text, and the tenant in service made
/// from it (its id and subdomain are the record's, so a lookup parses only the record it
/// finds). One for all the records of a file, each parsed at most once.
struct Unparsed {
    texts: Texts,
    tenants: Vec<Arc<TenantSpec>>,
    /// The tenants' ids side by side: a lookup reads them in order, not each tenant.
    ids: Vec<Uuid>,
    parsed: Vec<OnceLock<Arc<TenantFile>>>,
}

impl Unparsed {
    fn record(&self, i: usize) -> Result<&Arc<TenantFile>, ChangeError> {
        if let Some(record) = self.parsed[i].get() {
            return Ok(record);
        }
        let invalid = |e: String| {
            let id = self.tenants[i].id;
            ChangeError::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("the tenants file's record {id} no longer parses: {e}"),
            ))
        };
        let mut parsed: Vec<TenantFile> =
            serde_norway::from_str(&self.texts[i]).map_err(|e| invalid(e.to_string()))?;
        match (parsed.pop(), parsed.is_empty()) {
            (Some(record), true) => Ok(self.parsed[i].get_or_init(|| Arc::new(record))),
            _ => Err(invalid("the item is not one record".into())),
        }
    }

    fn is_parsed(&self, i: usize) -> bool {
        self.parsed[i].get().is_some()
    }
}

impl From<Vec<Arc<TenantFile>>> for Records {
    fn from(records: Vec<Arc<TenantFile>>) -> Self {
        Records {
            slots: records.into_iter().map(Slot::Parsed).collect(),
        }
    }
}

impl FromIterator<TenantFile> for Records {
    fn from_iter<I: IntoIterator<Item = TenantFile>>(records: I) -> Self {
        Records {
            slots: records
                .into_iter()
                .map(|r| Slot::Parsed(Arc::new(r)))
                .collect(),
        }
    }
}

impl Records {
    /// The records of a tenants file whose items are `texts`, when `tenants` (the version in
    /// service) was loaded from exactly those items, in order: none is parsed yet.
    pub(super) fn unparsed(texts: &Texts, tenants: &[Arc<TenantSpec>]) -> Option<Self> {
        if texts.len() != tenants.len() {
            return None;
        }
        let all = Arc::new(Unparsed {
            texts: texts.clone(),
            tenants: tenants.to_vec(),
            ids: tenants.iter().map(|t| t.id).collect(),
            parsed: (0..texts.len()).map(|_| OnceLock::new()).collect(),
        });
        Some(Records {
            slots: (0..texts.len())
                .map(|i| Slot::Text(all.clone(), i))
                .collect(),
        })
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Where the record with id `id` (compared as text, ignoring case) is.
    fn position(&self, id: &str) -> Result<Option<usize>, ChangeError> {
        // An unparsed record can only be it when its tenant has the same UUID: only then is
        // its text parsed, and its id compared as a parsed one is.
        let uuid = Uuid::parse_str(id).ok();
        for (i, slot) in self.slots.iter().enumerate() {
            let found = match slot {
                Slot::Parsed(r) => r.id.eq_ignore_ascii_case(id),
                Slot::Text(t, k) => {
                    Some(t.ids[*k]) == uuid && t.record(*k)?.id.eq_ignore_ascii_case(id)
                }
            };
            if found {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }

    /// The record with id `id`.
    pub fn find(&self, id: &str) -> Result<&TenantFile, ChangeError> {
        let i = self
            .position(id)?
            .ok_or_else(|| ChangeError::NotFound(id.to_string()))?;
        match &self.slots[i] {
            Slot::Parsed(r) => Ok(r),
            Slot::Text(t, k) => Ok(t.record(*k)?),
        }
    }

    /// The record with id `id`, to change (copied first if shared).
    pub fn find_mut(&mut self, id: &str) -> Result<&mut TenantFile, ChangeError> {
        let i = self
            .position(id)?
            .ok_or_else(|| ChangeError::NotFound(id.to_string()))?;
        let slot = &mut self.slots[i];
        if let Slot::Text(t, k) = slot {
            *slot = Slot::Parsed(t.record(*k)?.clone());
        }
        match slot {
            Slot::Parsed(r) => Ok(Arc::make_mut(r)),
            Slot::Text(..) => unreachable!("parsed just above"),
        }
    }

    /// Whether a record has id `id`.
    pub fn has_id(&self, id: &str) -> Result<bool, ChangeError> {
        Ok(self.position(id)?.is_some())
    }

    /// Whether a record has subdomain `subdomain` (ignoring case).
    pub fn has_subdomain(&self, subdomain: &str) -> bool {
        self.slots.iter().any(|slot| match slot {
            Slot::Parsed(r) => r.subdomain.eq_ignore_ascii_case(subdomain),
            // The tenant's subdomain is the record's, as it was validated.
            Slot::Text(t, i) => t.tenants[*i].subdomain.eq_ignore_ascii_case(subdomain),
        })
    }

    pub fn push(&mut self, record: TenantFile) {
        self.slots.push(Slot::Parsed(Arc::new(record)));
    }

    /// Removes the record with id `id`; whether there was one.
    pub fn remove(&mut self, id: &str) -> Result<bool, ChangeError> {
        let at = self.position(id)?;
        if let Some(i) = at {
            self.slots.remove(i);
        }
        Ok(at.is_some())
    }

    /// Every record, parsing those not parsed yet (on every core, when there are many).
    pub fn all(&self) -> Result<Vec<Arc<TenantFile>>, ChangeError> {
        let one = |slot: &Slot| match slot {
            Slot::Parsed(r) => Ok(r.clone()),
            Slot::Text(t, i) => t.record(*i).cloned(),
        };
        let unparsed = self
            .slots
            .iter()
            .filter(|s| matches!(s, Slot::Text(t, i) if !t.is_parsed(*i)))
            .count();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        if unparsed < 1024 || threads < 2 {
            return self.slots.iter().map(one).collect();
        }
        let chunk = self.slots.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let parts: Vec<_> = self
                .slots
                .chunks(chunk)
                .map(|part| scope.spawn(move || part.iter().map(one).collect::<Vec<_>>()))
                .collect();
            let mut all = Vec::with_capacity(self.slots.len());
            for part in parts {
                let part = part
                    .join()
                    .map_err(|_| ChangeError::Io(std::io::Error::other("a parser panicked")))?;
                for r in part {
                    all.push(r?);
                }
            }
            Ok(all)
        })
    }

    /// The records `self` has in place of `before`'s as one replaced run (the records a
    /// change did not touch are the same allocations); `None` when more than
    /// [`config::EDIT_MAX`] records changed or a changed record does not parse.
    pub fn edit_from(&self, before: &Records) -> Option<config::RecordEdit> {
        let (start, tail) = config::common_ends(&before.slots, &self.slots, same);
        let removed = before.len() - start - tail;
        let added = &self.slots[start..self.len() - tail];
        if removed > config::EDIT_MAX || added.len() > config::EDIT_MAX {
            return None;
        }
        let added = added
            .iter()
            .map(|slot| match slot {
                Slot::Parsed(r) => Ok(TenantFile::clone(r)),
                Slot::Text(t, i) => t.record(*i).map(|r| TenantFile::clone(r)),
            })
            .collect::<Result<_, _>>()
            .ok()?;
        Some(config::RecordEdit {
            start,
            removed,
            added,
        })
    }
}

/// Whether two slots hold the same record: the same allocation, or equal records (an
/// unparsed one only once a lookup parsed it).
fn same(a: &Slot, b: &Slot) -> bool {
    match (a, b) {
        (Slot::Parsed(x), Slot::Parsed(y)) => Arc::ptr_eq(x, y) || x == y,
        (Slot::Text(x, i), Slot::Text(y, j)) => Arc::ptr_eq(x, y) && i == j,
        (Slot::Text(t, i), Slot::Parsed(r)) | (Slot::Parsed(r), Slot::Text(t, i)) => {
            t.parsed[*i].get() == Some(r)
        }
    }
}

#[cfg(test)]
#[path = "records_tests.rs"]
mod tests;
