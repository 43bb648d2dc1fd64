//! One lock per key, made on demand and dropped when nobody holds or waits for it.
//!
//! Reading a case from a provider and applying the reading must happen in the order the
//! readings were taken: two readings of the same second carry the same `update_time`, so the
//! resource cannot tell an older one from a newer one, and a notification's reading that
//! finishes after an API answer's would put the case back where it was. Within an instance,
//! holding the key's lock from the read to the commit keeps them in order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OwnedMutexGuard;

#[derive(Default)]
pub struct KeyedLocks {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Held while the key's work runs; the key's entry goes when its last holder is gone.
pub struct KeyGuard<'a> {
    owner: &'a KeyedLocks,
    key: String,
    guard: Option<OwnedMutexGuard<()>>,
}

impl KeyedLocks {
    pub async fn lock(&self, key: &str) -> KeyGuard<'_> {
        let lock = self.entries().entry(key.to_owned()).or_default().clone();
        KeyGuard { owner: self, key: key.to_owned(), guard: Some(lock.lock_owned().await) }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<tokio::sync::Mutex<()>>>> {
        // The map holds no invariant a panicking holder could break.
        self.locks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries().len()
    }
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut entries = self.owner.entries();
        // Only the map's own reference left: nobody holds or waits for this key.
        if entries.get(&self.key).is_some_and(|lock| Arc::strong_count(lock) == 1) {
            entries.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn holders_of_one_key_take_turns_and_the_key_is_forgotten_after() {
        let locks = Arc::new(KeyedLocks::default());
        let first = locks.lock("PP-D-1").await;
        let waiting = tokio::spawn({
            let locks = locks.clone();
            async move {
                let _second = locks.lock("PP-D-1").await;
            }
        });
        let other = locks.lock("PP-D-2").await;
        let mut waiting = waiting;
        let still_waiting = tokio::time::timeout(std::time::Duration::from_millis(50), &mut waiting).await;
        assert!(still_waiting.is_err(), "the second holder of a key waits for the first");
        drop(other);
        drop(first);
        waiting.await.unwrap();
        assert_eq!(locks.len(), 0);
    }
}
