use thiserror::Error;

/// Why a battle cannot take a vote or a new turn right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BattleConflict {
    /// The battle already has its vote.
    AlreadyVoted,
    /// At least one side is still generating.
    NotReady,
    /// A side failed, so the battle can never be judged fairly.
    Failed,
    /// The battle sat unvoted for too long and was closed.
    Expired,
}

/// Everything that can go wrong in the storage layer.
///
/// Client mistakes the database detects (a duplicate name, a second vote) get
/// their own variants so that the API can answer them with a 4xx; only
/// [`StorageError::Database`] and [`StorageError::Migration`] are server faults.
#[derive(Debug, Error)]
pub enum StorageError {
    /// The database URL is neither `sqlite:` nor `postgres:`/`postgresql:`.
    #[error("unsupported database url scheme {0:?}: expected sqlite:// or postgres://")]
    UnsupportedUrl(String),
    /// No row with this identifier.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique name is already taken.
    #[error("a model named {0:?} already exists")]
    DuplicateName(String),
    /// The battle's state forbids the operation.
    #[error("battle conflict: {0:?}")]
    Battle(BattleConflict),
    /// A value read back from the database breaks an invariant of the schema.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// Applying the migrations failed.
    #[error("migration failed")]
    Migration(#[source] sqlx::migrate::MigrateError),
    /// The database cannot be reached or is overloaded right now (connection
    /// lost or refused, pool exhausted, lock held too long): worth retrying.
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// The database refused or failed a query.
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// The caller of an import gave up (its file has a malformed row, say):
    /// nothing of the import was kept.
    #[error("import abandoned: {0}")]
    ImportAbandoned(String),
    /// The export's direct SQLite reader failed (see `sqlite_export`).
    #[error("database error in the export reader")]
    ExportReader(#[source] rusqlite::Error),
}

impl From<rusqlite::Error> for StorageError {
    fn from(error: rusqlite::Error) -> Self {
        StorageError::ExportReader(error)
    }
}

impl From<sqlx::Error> for StorageError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::RowNotFound => StorageError::NotFound("row"),
            other if is_transient(&other) => StorageError::Unavailable(other),
            other => StorageError::Database(other),
        }
    }
}

/// Whether an error means "the database is not reachable right now" rather
/// than "this query is wrong".
fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // PostgreSQL: class 08 connection exception, 57P0x shutdown or
            // crash recovery, 53 insufficient resources, 3D000 database gone.
            // SQLite: 5 SQLITE_BUSY and 6 SQLITE_LOCKED (after busy_timeout).
            // 55000 is what a database closed to new connections answers.
            code.starts_with("08")
                || code == "55000"
                || code.starts_with("57P0")
                || code.starts_with("53")
                || code == "3D000"
                || code == "5"
                || code == "6"
        }
        _ => false,
    }
}

/// Shorthand used across the crate.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// The name of the unique constraint a database error violated, if any.
pub(crate) fn violated_constraint(error: &sqlx::Error) -> Option<String> {
    let db = error.as_database_error()?;
    if !db.is_unique_violation() {
        return None;
    }
    // PostgreSQL names the index; SQLite only names the columns in its message.
    Some(
        db.constraint()
            .map(str::to_owned)
            .unwrap_or_else(|| db.message().to_owned()),
    )
}
