//! A lookup map made of a large shared base and a small layer of changes over it: a snapshot
//! made from the last one shares the base (100,000 tenants' entries are not copied for a
//! change to one) and copies only the layer. When the layer grows past [`LAYER_MAX`]
//! entries the two are merged into a new base, so a lookup is at most two probes, and one
//! while no change is layered. A map whose base nobody shares (one being built) is changed
//! in place.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;

/// Changes kept apart from the base before they are merged into a new one: merging copies the
/// whole map, so with this many it happens at most once per `LAYER_MAX` changed entries.
pub const LAYER_MAX: usize = 1024;

#[derive(Debug)]
pub struct Layered<K, V, S> {
    base: Arc<HashMap<K, V, S>>,
    /// Entries set (`Some`) or removed (`None`) since the base was made.
    layer: HashMap<K, Option<V>, S>,
}

impl<K, V, S: Default> Default for Layered<K, V, S> {
    fn default() -> Self {
        Self {
            base: Arc::new(HashMap::default()),
            layer: HashMap::default(),
        }
    }
}

impl<K: Clone, V: Clone, S: Clone> Clone for Layered<K, V, S> {
    /// Shares the base; copies the layer.
    fn clone(&self) -> Self {
        Self {
            base: self.base.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<K, V, S> Layered<K, V, S>
where
    K: Hash + Eq + Clone,
    V: Clone,
    S: BuildHasher + Default + Clone,
{
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if !self.layer.is_empty() {
            if let Some(changed) = self.layer.get(key) {
                return changed.as_ref();
            }
        }
        self.base.get(key)
    }

    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get(key).is_some()
    }

    /// The base, when nobody shares it and no change is layered over it.
    fn own_base(&mut self) -> Option<&mut HashMap<K, V, S>> {
        if self.layer.is_empty() {
            Arc::get_mut(&mut self.base)
        } else {
            None
        }
    }

    pub fn reserve(&mut self, additional: usize) {
        if let Some(base) = self.own_base() {
            base.reserve(additional);
        }
    }

    pub fn insert(&mut self, key: K, value: V) {
        match self.own_base() {
            Some(base) => {
                base.insert(key, value);
            }
            None => {
                self.layer.insert(key, Some(value));
            }
        }
    }

    /// Sets `key` to `value` unless it has a value.
    pub fn insert_if_absent(&mut self, key: K, value: V) {
        if self.get(&key).is_none() {
            self.insert(key, value);
        }
    }

    pub fn remove(&mut self, key: K) {
        if let Some(base) = self.own_base() {
            base.remove(&key);
        } else if self.base.contains_key(&key) {
            self.layer.insert(key, None);
        } else {
            self.layer.remove(&key);
        }
    }

    /// Merges the layer into a new base once it holds more than [`LAYER_MAX`] entries.
    pub fn settle(&mut self) {
        if self.layer.len() <= LAYER_MAX {
            return;
        }
        let mut merged = HashMap::clone(&self.base);
        for (k, v) in self.layer.drain() {
            match v {
                Some(v) => merged.insert(k, v),
                None => merged.remove(&k),
            };
        }
        self.base = Arc::new(merged);
    }

    /// Every entry (in no particular order).
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        let base = self
            .base
            .iter()
            .filter(|(k, _)| !self.layer.contains_key(*k));
        let layer = self
            .layer
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)));
        base.chain(layer)
    }

    /// How many changed entries are layered over the base.
    #[cfg(test)]
    pub fn layered(&self) -> usize {
        self.layer.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    type Map = Layered<Arc<str>, u32, std::collections::hash_map::RandomState>;

    fn sorted(m: &Map) -> Vec<(String, u32)> {
        let mut v: Vec<_> = m.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        v.sort();
        v
    }

    #[test]
    fn layered_changes_read_like_a_plain_map_before_and_after_settling() {
        let base: HashMap<Arc<str>, u32> = (0..10).map(|i| (format!("k{i}").into(), i)).collect();
        let mut m = Map::default();
        for (k, v) in &base {
            m.insert(k.clone(), *v);
        }
        assert_eq!(m.layered(), 0, "a map being built is changed in place");
        let mut plain = base;
        let first = m.clone();
        for round in 0..(LAYER_MAX as u32 + 50) {
            let key: Arc<str> = format!("k{}", round % 40).into();
            if round % 3 == 0 {
                m.remove(key.clone());
                plain.remove(&key);
            } else {
                m.insert(key.clone(), round);
                plain.insert(key, round);
            }
            if round % 100 == 0 {
                m.insert_if_absent("k1".into(), 999);
                plain.entry("k1".into()).or_insert(999);
            }
            m.settle();
            for i in 0..45 {
                let k = format!("k{i}");
                assert_eq!(
                    m.get(k.as_str()),
                    plain.get(k.as_str()),
                    "{k} after {round}"
                );
            }
        }
        let mut want: Vec<_> = plain.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        want.sort();
        assert_eq!(sorted(&m), want);
        assert!(m.layered() <= LAYER_MAX);
        // The snapshot taken before the changes still reads as it was.
        assert_eq!(sorted(&first).len(), 10);
        assert_eq!(first.get("k3"), Some(&3));
    }
}
