//! A short-lived in-memory copy of the model registry.
//!
//! Every new battle needs the list of sampleable models and every vote the
//! two revealed models; reading them from the database each time was a large
//! share of a battle's cost. The copy is refreshed when older than
//! [`MAX_AGE`] (so admin changes made through another instance show within
//! that time) and dropped at once by admin writes on this instance.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arena_storage::{Model, Storage};
use tokio::sync::RwLock;
use uuid::Uuid;

use crate::error::ApiResult;

/// How long a copy of the registry may be served.
const MAX_AGE: Duration = Duration::from_secs(1);

/// The cached registry.
#[derive(Default)]
pub struct ModelRegistry {
    copy: RwLock<Option<(Instant, Arc<Vec<Model>>)>>,
}

impl ModelRegistry {
    /// Every registered model, retired ones included.
    pub async fn all(&self, storage: &dyn Storage) -> ApiResult<Arc<Vec<Model>>> {
        if let Some((at, models)) = self.copy.read().await.as_ref()
            && at.elapsed() < MAX_AGE
        {
            return Ok(Arc::clone(models));
        }
        let models = Arc::new(storage.list_models().await?);
        *self.copy.write().await = Some((Instant::now(), Arc::clone(&models)));
        Ok(models)
    }

    /// One model by id, from the copy when it is there.
    pub async fn get(&self, storage: &dyn Storage, id: Uuid) -> ApiResult<Model> {
        if let Some(model) = self.all(storage).await?.iter().find(|m| m.id == id) {
            return Ok(model.clone());
        }
        Ok(storage.get_model(id).await?)
    }

    /// Forgets the copy after a change to the registry.
    pub async fn invalidate(&self) {
        *self.copy.write().await = None;
    }
}
