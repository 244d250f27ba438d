//! The SQLite backend: the embedded default.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::error::Result;

/// Storage on one SQLite file.
///
/// WAL lets readers proceed while one writer commits; `synchronous = NORMAL`
/// in WAL mode keeps every commit durable across a crash of the process
/// (SIGKILL included) and loses at most the last commits on power loss, the
/// trade-off most embedded servers make. `busy_timeout` makes concurrent
/// writers wait for the lock instead of failing.
pub(crate) struct SqliteStore {
    pub(crate) pool: SqlitePool,
}

impl SqliteStore {
    pub(crate) const BACKEND: &'static str = "sqlite";

    pub(crate) async fn connect(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }

    pub(crate) fn migrator() -> sqlx::migrate::Migrator {
        crate::migrations::sqlite()
    }
}

crate::queries::impl_storage!(SqliteStore, sqlx::Sqlite);
