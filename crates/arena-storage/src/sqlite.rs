//! The SQLite backend: the embedded default.

use std::path::PathBuf;
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
/// trade-off most embedded servers make.
///
/// SQLite admits one writer at a time. Rather than letting several
/// connections race for the write lock (losers sleep in SQLite's busy handler
/// and retry), every write goes through a pool of exactly one connection, so
/// writers queue in order inside the process; reads use a separate pool and
/// run in parallel thanks to WAL. `busy_timeout` still covers writers in
/// other processes (`arena import`, a backup).
pub(crate) struct SqliteStore {
    /// Read connections.
    pub(crate) pool: SqlitePool,
    /// The single write connection.
    pub(crate) writer: SqlitePool,
    /// The database file, for the export's direct reader.
    path: PathBuf,
}

/// How much of the database file each read connection maps into memory
/// (`PRAGMA mmap_size`).
///
/// Without it every page SQLite's small per-connection cache misses is a
/// `pread` into a fresh buffer: a million-vote export, which visits the
/// battle of each vote at random, spent a fifth of its time copying pages
/// out of the kernel. Mapped, those reads touch the page cache in place. The
/// mapping is address space, not heap: its pages are the kernel's file cache
/// (they count in VmRSS as RssFile, and are dropped under memory pressure).
/// The write connection does not map: SQLite writes through the WAL anyway.
pub(crate) const READ_MMAP_BYTES: u64 = 1 << 30;

impl SqliteStore {
    pub(crate) const BACKEND: &'static str = "sqlite";

    pub(crate) async fn connect(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let path = options.get_filename().to_owned();
        // The writer connects first so that it creates the file and turns WAL on.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.pragma("mmap_size", READ_MMAP_BYTES.to_string()))
            .await?;
        Ok(Self { pool, writer, path })
    }

    pub(crate) fn migrator() -> sqlx::migrate::Migrator {
        crate::migrations::sqlite()
    }

    /// The database file, for the export's direct reader, when it serves
    /// `scope` (see `crate::sqlite_export`).
    pub(crate) fn direct_export(&self, scope: &crate::export::Scope) -> Option<PathBuf> {
        crate::sqlite_export::serves(&self.path, scope).then(|| self.path.clone())
    }
}

crate::queries::impl_storage!(SqliteStore, sqlx::Sqlite);
