//! In-process mutual exclusion by key: one booking attempt per slot (and per booking) at a
//! time in this process. Entries are dropped once no one holds or waits for them.
use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::OwnedMutexGuard;

/// Async locks by string key.
#[derive(Default)]
pub struct KeyedLocks {
    map: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
}

impl KeyedLocks {
    fn entry(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.map.lock();
        if let Some(lock) = map.get(key).and_then(Weak::upgrade) {
            return lock;
        }
        if map.len() > 1024 {
            map.retain(|_, w| w.strong_count() > 0);
        }
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        map.insert(key.to_owned(), Arc::downgrade(&lock));
        lock
    }

    /// Waits for the lock on `key`.
    pub async fn lock(&self, key: &str) -> OwnedMutexGuard<()> {
        self.entry(key).lock_owned().await
    }

    /// Waits at most `wait` for the lock on `key`.
    pub async fn lock_within(&self, key: &str, wait: Duration) -> Option<OwnedMutexGuard<()>> {
        tokio::time::timeout(wait, self.lock(key)).await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn same_key_excludes_other_keys_do_not() {
        let locks = KeyedLocks::default();
        let held = locks.lock("a").await;
        assert!(
            locks
                .lock_within("a", Duration::from_millis(20))
                .await
                .is_none()
        );
        assert!(
            locks
                .lock_within("b", Duration::from_millis(20))
                .await
                .is_some()
        );
        drop(held);
        assert!(
            locks
                .lock_within("a", Duration::from_millis(20))
                .await
                .is_some()
        );
    }
}
