//! [`SharedStore`]: the one store of the service behind a mutex, called from async code on
//! tokio's blocking threads so SQLite never blocks the runtime.

use std::sync::{Arc, Mutex};

use super::{Store, StoreError};

/// A cloneable handle on the service's store.
#[derive(Clone)]
pub struct SharedStore {
    /// One connection, one writer: SQLite serialises writers anyway, and holding this lock while
    /// handing new frames to connections keeps delivery in `seq` order (see `server::chat`).
    inner: Arc<Mutex<Box<dyn Store>>>,
}

impl SharedStore {
    pub fn new(store: Box<dyn Store>) -> SharedStore {
        SharedStore {
            inner: Arc::new(Mutex::new(store)),
        }
    }

    /// Runs `f` with the store on a blocking thread. `f` must not await or block on the network.
    pub async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut dyn Store) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock leaves SQLite consistent (transactions roll back
            // on drop), so a poisoned lock is safe to keep using.
            let mut guard = inner.lock().unwrap_or_else(|p| p.into_inner());
            f(guard.as_mut())
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }
}
