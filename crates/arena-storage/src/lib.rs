//! Arena's storage layer: one [`Storage`] trait with two implementations, on
//! SQLite (the embedded default, WAL mode, file created when missing) and on
//! PostgreSQL (for several `arena serve` instances on one database).
//!
//! The backend is chosen once, from the URL scheme, by [`connect`]. Both
//! implementations share their SQL (written with `$1` placeholders, which both
//! dialects accept) through one macro, so a query cannot drift between them;
//! each backend has its own migrations under `migrations/<dialect>/`.
//!
//! Architecture invariant: this is the only crate that knows SQL, and no
//! sqlx type crosses its boundary.

mod error;
mod export;
mod migrations;
mod postgres;
mod queries;
mod rows;
mod sqlite;
mod sqlite_export;
mod types;

use std::sync::Arc;

use arena_core::Winner;
use async_trait::async_trait;
use futures_util::stream::BoxStream;
use uuid::Uuid;

pub use error::{BattleConflict, Result, StorageError};
pub use types::*;

/// The operations Arena needs from a database.
///
/// Integrity rules live in the database itself (one vote per battle, unique
/// model names, a battle never pits a model against itself) and surface here
/// as typed errors.
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<()>;
    /// Checks that the database answers.
    async fn ping(&self) -> Result<()>;

    /// Reads a setting.
    async fn setting(&self, key: &str) -> Result<Option<String>>;
    /// Stores `value` under `key` unless a value exists; returns the value in force.
    async fn setting_or_insert(&self, key: &str, value: &str) -> Result<String>;

    /// Registers a model; [`StorageError::DuplicateName`] when the name is taken.
    async fn insert_model(&self, model: NewModel, now_ms: i64) -> Result<Model>;
    /// Every model, retired ones included, in creation order.
    async fn list_models(&self) -> Result<Vec<Model>>;
    /// One model.
    async fn get_model(&self, id: Uuid) -> Result<Model>;
    /// Applies a patch; [`StorageError::DuplicateName`] on a rename to a taken name.
    async fn update_model(&self, id: Uuid, patch: ModelPatch, now_ms: i64) -> Result<Model>;
    /// Retires a model: never sampled again, kept on the leaderboard.
    async fn retire_model(&self, id: Uuid, now_ms: i64) -> Result<()>;

    /// Stores a token hash with its role.
    async fn insert_token(
        &self,
        token_hash: &str,
        role: TokenRole,
        label: &str,
        now_ms: i64,
    ) -> Result<Uuid>;
    /// The role of an unrevoked token, by hash.
    async fn token_role(&self, token_hash: &str) -> Result<Option<TokenRole>>;

    /// Creates a battle and its first turn.
    async fn create_battle(&self, battle: NewBattle) -> Result<()>;
    /// Reads a battle with its turns and vote.
    async fn get_battle(&self, id: Uuid) -> Result<Battle>;
    /// Reads a battle and its vote without the turns (`turns` is empty):
    /// enough to check ownership and state.
    async fn get_battle_head(&self, id: Uuid) -> Result<Battle>;
    /// Adds the next turn to a ready, unvoted battle; returns its number.
    async fn add_turn(&self, id: Uuid, prompt: &str, now_ms: i64) -> Result<u32>;
    /// Saves the text streamed so far on one side (for replay on other instances).
    async fn save_partial_answer(
        &self,
        id: Uuid,
        turn: u32,
        side: arena_core::Side,
        text: &str,
    ) -> Result<()>;
    /// Records one side's final result; when both sides of the turn are final
    /// the battle becomes ready (or failed). Returns the battle's new state.
    async fn finish_side(
        &self,
        id: Uuid,
        turn: u32,
        outcome: SideOutcome,
        now_ms: i64,
    ) -> Result<BattleState>;
    /// Records the vote, atomically with the state change. Errors with
    /// [`StorageError::Battle`] when the battle is not ready or already voted.
    /// Returns the vote's id.
    async fn record_vote(&self, id: Uuid, winner: Winner, voter: &str, now_ms: i64) -> Result<i64>;
    /// Marks battles untouched since `before_ms` and still unvoted as expired
    /// (also those left generating by a crashed instance); returns how many.
    async fn expire_battles(&self, before_ms: i64, now_ms: i64) -> Result<u64>;

    /// Votes that count for the leaderboard, in vote order: voted, no identity
    /// leak, voter not flagged.
    fn counted_votes(&self, filter: VoteFilter) -> BoxStream<'_, Result<CountedVote>>;
    /// Voted battles for export (same exclusions as the leaderboard), in vote
    /// order, with turns when `conversations` is true.
    fn export_battles(
        &self,
        filter: VoteFilter,
        conversations: bool,
    ) -> BoxStream<'_, Result<ExportBattle>>;
    /// Inserts imported battles in one transaction, chunk by chunk as
    /// `chunks` yields them (the caller reads its file meanwhile); rows whose
    /// external id is already stored are skipped. An `Err` item abandons the
    /// import: the transaction is rolled back and that error returned, so
    /// nothing is half-imported.
    async fn import_battles(
        &self,
        chunks: BoxStream<'static, Result<Vec<ImportedBattle>>>,
        now_ms: i64,
    ) -> Result<ImportSummary>;

    /// Flags a voter; their votes stay stored but stop counting.
    async fn flag_voter(&self, voter: &str, reason: &str, now_ms: i64) -> Result<()>;
    /// Every flagged voter.
    async fn flagged_voters(&self) -> Result<Vec<FlaggedVoter>>;
    /// Every category tag in use.
    async fn categories(&self) -> Result<Vec<String>>;
}

/// Connects to the database named by `url` (`sqlite://…` or `postgres://…`).
/// A SQLite file is created when missing. Does not migrate.
pub async fn connect(url: &str) -> Result<Arc<dyn Storage>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::connect(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(postgres::PgStore::connect(url).await?))
    } else {
        let scheme = url.split(':').next().unwrap_or_default();
        Err(StorageError::UnsupportedUrl(scheme.to_owned()))
    }
}
