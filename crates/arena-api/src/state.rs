//! Shared server state, cloned cheaply into every handler.

use std::sync::Arc;
use std::time::Duration;

use arena_dispatch::{Dispatcher, HealthTracker};
use arena_storage::Storage;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::battles::hub::BattleHub;
use crate::leaderboard::LeaderboardCache;
use crate::limits::RateLimits;
use crate::sampling::SamplingMode;

/// Settings of the HTTP layer, resolved by the binary.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The admin bearer token.
    pub admin_token: SecretString,
    /// New battles and turns per voter per minute (ten times that per client
    /// address); 0 disables the limit.
    pub battles_per_minute: u32,
    /// Longest accepted prompt, in characters.
    pub max_prompt_chars: usize,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Unvoted battles expire after this long without activity.
    pub battle_expiry: Duration,
    /// How pairs are drawn.
    pub sampling: SamplingMode,
    /// Models with fewer votes are marked provisional.
    pub provisional_below_votes: u64,
    /// Take the client address from `X-Forwarded-For` (behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// Mark the voter cookie `Secure` (when served over HTTPS).
    pub secure_cookies: bool,
    /// How long a computed leaderboard may be served before it is recomputed
    /// to include votes cast through other instances.
    pub leaderboard_max_age: Duration,
}

impl ApiConfig {
    /// Defaults suitable for tests and local use, with the given admin token.
    pub fn new(admin_token: SecretString) -> Self {
        Self {
            admin_token,
            battles_per_minute: 20,
            max_prompt_chars: 16_000,
            max_body_bytes: 256 * 1024,
            battle_expiry: Duration::from_secs(3600),
            sampling: SamplingMode::Weighted,
            provisional_below_votes: 300,
            trust_forwarded_for: false,
            secure_cookies: false,
            leaderboard_max_age: Duration::from_secs(5),
        }
    }
}

struct Inner {
    storage: Arc<dyn Storage>,
    dispatcher: Dispatcher,
    health: HealthTracker,
    config: ApiConfig,
    admin_digest: [u8; 32],
    judge_salt: String,
    hub: BattleHub,
    leaderboard: LeaderboardCache,
    limits: RateLimits,
    shutdown: watch::Receiver<bool>,
    tasks: tokio_util::task::TaskTracker,
    registry: crate::registry::ModelRegistry,
    exports: Arc<tokio::sync::Semaphore>,
}

/// Exports that run at once on one instance; later ones wait for a turn.
///
/// An export holds a few pages, a batch and (Parquet) a row group: tens of
/// MB with conversations. Unbounded, exports requested faster than they
/// finish pile up and memory grows with the dataset (a soak at 95 battles/s
/// with an export every 10 s grew past 250 MB as exports of the growing
/// dataset started to overlap). Two at a time keeps memory bounded and the
/// database busy; a waiting export has its response headers already and
/// holds nothing but its place in the queue.
pub const CONCURRENT_EXPORTS: usize = 2;

/// Everything a handler may need. Cloning is an `Arc` increment.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    /// Builds the state. `judge_salt` is the deployment's salt for exported
    /// judge hashes; `shutdown` turns true when the server stops.
    pub fn new(
        storage: Arc<dyn Storage>,
        dispatcher: Dispatcher,
        config: ApiConfig,
        judge_salt: String,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let admin_digest = Sha256::digest(config.admin_token.expose_secret().as_bytes()).into();
        let limits = RateLimits::new(config.battles_per_minute);
        let leaderboard =
            LeaderboardCache::new(config.provisional_below_votes, config.leaderboard_max_age);
        Self(Arc::new(Inner {
            storage,
            dispatcher,
            health: HealthTracker::default(),
            admin_digest,
            judge_salt,
            hub: BattleHub::default(),
            leaderboard,
            limits,
            shutdown,
            tasks: tokio_util::task::TaskTracker::new(),
            registry: crate::registry::ModelRegistry::default(),
            exports: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_EXPORTS)),
            config,
        }))
    }

    /// The database.
    pub fn storage(&self) -> &dyn Storage {
        self.0.storage.as_ref()
    }

    /// The model-backend dispatcher.
    pub fn dispatcher(&self) -> &Dispatcher {
        &self.0.dispatcher
    }

    /// Backend health, per model id.
    pub fn health(&self) -> &HealthTracker {
        &self.0.health
    }

    /// HTTP settings.
    pub fn config(&self) -> &ApiConfig {
        &self.0.config
    }

    /// SHA-256 of the configured admin token.
    pub fn admin_token_digest(&self) -> &[u8; 32] {
        &self.0.admin_digest
    }

    /// Waits for a turn to run an export (see [`CONCURRENT_EXPORTS`]); the
    /// turn ends when the permit is dropped.
    pub async fn export_turn(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.0.exports.clone().acquire_owned().await.ok()
    }

    /// Salt for exported judge hashes.
    pub fn judge_salt(&self) -> &str {
        &self.0.judge_salt
    }

    /// Live battle events.
    pub fn hub(&self) -> &BattleHub {
        &self.0.hub
    }

    /// The live leaderboard.
    pub fn leaderboard(&self) -> &LeaderboardCache {
        &self.0.leaderboard
    }

    /// Rate limits.
    pub fn limits(&self) -> &RateLimits {
        &self.0.limits
    }

    /// Background generation tasks, awaited at shutdown so that every turn
    /// records its final state before the process exits.
    pub fn tasks(&self) -> &tokio_util::task::TaskTracker {
        &self.0.tasks
    }

    /// The cached model registry.
    pub fn registry(&self) -> &crate::registry::ModelRegistry {
        &self.0.registry
    }

    /// Turns true when the server is shutting down.
    pub fn shutdown(&self) -> watch::Receiver<bool> {
        self.0.shutdown.clone()
    }
}

/// Current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}
