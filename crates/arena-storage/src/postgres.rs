//! The PostgreSQL backend: several `arena serve` instances on one database.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::error::Result;

/// Storage on a PostgreSQL database.
pub(crate) struct PgStore {
    /// Connections for reads.
    pub(crate) pool: PgPool,
    /// Connections for writes: the same pool (PostgreSQL has row locks, so
    /// writers need no queue of their own).
    pub(crate) writer: PgPool,
}

impl PgStore {
    pub(crate) const BACKEND: &'static str = "postgres";

    pub(crate) async fn connect(url: &str) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)?.application_name("arena");
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        Ok(Self {
            writer: pool.clone(),
            pool,
        })
    }

    pub(crate) fn migrator() -> sqlx::migrate::Migrator {
        crate::migrations::postgres()
    }

    /// Never: PostgreSQL's driver decodes rows on the reading task, so its
    /// export has no driver hand-off to bypass (see `crate::sqlite_export`).
    pub(crate) fn direct_export(
        &self,
        _scope: &crate::export::Scope,
    ) -> Option<std::path::PathBuf> {
        None
    }
}

crate::queries::impl_storage!(PgStore, sqlx::Postgres);
