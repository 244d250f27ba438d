//! Plain records that cross the storage boundary. No sqlx type appears here.

use arena_core::{Side, Winner};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

/// Where a model registration came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelSource {
    /// Registered through the admin API.
    Api,
    /// Declared in `arena.toml`.
    Config,
    /// A built-in demo model (`serve --demo`).
    Demo,
    /// Created by `arena import` for a model name found in a dataset.
    Import,
}

impl ModelSource {
    /// The value stored in the `source` column.
    pub const fn as_str(self) -> &'static str {
        match self {
            ModelSource::Api => "api",
            ModelSource::Config => "config",
            ModelSource::Demo => "demo",
            ModelSource::Import => "import",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "api" => ModelSource::Api,
            "config" => ModelSource::Config,
            "demo" => ModelSource::Demo,
            "import" => ModelSource::Import,
            _ => return None,
        })
    }
}

/// A registered model endpoint.
///
/// `Debug` never prints the API key: the key is a [`SecretString`].
#[derive(Debug, Clone)]
pub struct Model {
    /// Stable identifier.
    pub id: Uuid,
    /// Public display name, unique.
    pub name: String,
    /// OpenAI-compatible root, e.g. `http://127.0.0.1:8000/v1` (or `demo://…`).
    pub base_url: String,
    /// The model id sent upstream.
    pub upstream_model: String,
    /// Literal API key, write-only from the API's point of view.
    pub api_key: Option<SecretString>,
    /// Name of an environment variable holding the API key.
    pub api_key_env: Option<String>,
    /// Who made the model.
    pub organization: Option<String>,
    /// The model's licence.
    pub license: Option<String>,
    /// Generation parameters, a JSON object passed to the backend.
    pub params: serde_json::Value,
    /// System prompt prepended to every conversation.
    pub system_prompt: Option<String>,
    /// Relative sampling weight (0 = never sampled).
    pub weight: f64,
    /// Whether the model may be sampled.
    pub enabled: bool,
    /// Where the registration came from.
    pub source: ModelSource,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
    /// Last change, Unix milliseconds.
    pub updated_at_ms: i64,
    /// When the model was retired; retired models are never sampled again.
    pub retired_at_ms: Option<i64>,
}

impl Model {
    /// Whether an API key is configured, literally or through a variable.
    pub fn has_api_key(&self) -> bool {
        self.api_key.is_some() || self.api_key_env.is_some()
    }

    /// Whether the model can be drawn into a new battle.
    pub fn is_sampleable(&self) -> bool {
        self.enabled && self.retired_at_ms.is_none() && self.weight > 0.0
    }
}

/// A model to register.
#[derive(Debug, Clone)]
pub struct NewModel {
    /// Public display name, unique.
    pub name: String,
    /// OpenAI-compatible root URL.
    pub base_url: String,
    /// Upstream model id.
    pub upstream_model: String,
    /// Literal API key.
    pub api_key: Option<SecretString>,
    /// Environment variable holding the API key.
    pub api_key_env: Option<String>,
    /// Who made the model.
    pub organization: Option<String>,
    /// The model's licence.
    pub license: Option<String>,
    /// Generation parameters (JSON object).
    pub params: serde_json::Value,
    /// System prompt.
    pub system_prompt: Option<String>,
    /// Relative sampling weight.
    pub weight: f64,
    /// Whether the model may be sampled.
    pub enabled: bool,
    /// Where the registration comes from.
    pub source: ModelSource,
}

/// A partial update of a model: `None` leaves a field unchanged; for nullable
/// fields `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct ModelPatch {
    /// New name.
    pub name: Option<String>,
    /// New base URL.
    pub base_url: Option<String>,
    /// New upstream model id.
    pub upstream_model: Option<String>,
    /// Rotate or remove the literal key.
    pub api_key: Option<Option<SecretString>>,
    /// Change or remove the key variable.
    pub api_key_env: Option<Option<String>>,
    /// Change or remove the organization.
    pub organization: Option<Option<String>>,
    /// Change or remove the licence.
    pub license: Option<Option<String>>,
    /// Replace the generation parameters.
    pub params: Option<serde_json::Value>,
    /// Change or remove the system prompt.
    pub system_prompt: Option<Option<String>>,
    /// New weight.
    pub weight: Option<f64>,
    /// Enable or disable.
    pub enabled: Option<bool>,
}

impl ModelPatch {
    /// Applies the patch to a copy of `model`.
    pub fn apply(self, model: &Model) -> Model {
        let mut next = model.clone();
        if let Some(v) = self.name {
            next.name = v;
        }
        if let Some(v) = self.base_url {
            next.base_url = v;
        }
        if let Some(v) = self.upstream_model {
            next.upstream_model = v;
        }
        if let Some(v) = self.api_key {
            next.api_key = v;
        }
        if let Some(v) = self.api_key_env {
            next.api_key_env = v;
        }
        if let Some(v) = self.organization {
            next.organization = v;
        }
        if let Some(v) = self.license {
            next.license = v;
        }
        if let Some(v) = self.params {
            next.params = v;
        }
        if let Some(v) = self.system_prompt {
            next.system_prompt = v;
        }
        if let Some(v) = self.weight {
            next.weight = v;
        }
        if let Some(v) = self.enabled {
            next.enabled = v;
        }
        next
    }
}

/// Who an access token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRole {
    /// Full control.
    Admin,
    /// May export datasets.
    Researcher,
}

impl TokenRole {
    /// The stored role name.
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenRole::Admin => "admin",
            TokenRole::Researcher => "researcher",
        }
    }

    /// Parses a stored or requested role name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "admin" => Some(TokenRole::Admin),
            "researcher" => Some(TokenRole::Researcher),
            _ => None,
        }
    }
}

/// Lifecycle of a battle: generating → ready → voted, or failed / expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BattleState {
    /// At least one side of the last turn is still streaming.
    Generating,
    /// Both sides of the last turn are done; the battle awaits a vote or a turn.
    Ready,
    /// The vote is in; model identities may be revealed.
    Voted,
    /// A side failed; the battle cannot be voted.
    Failed,
    /// Nobody voted in time.
    Expired,
}

impl BattleState {
    /// The stored state name.
    pub const fn as_str(self) -> &'static str {
        match self {
            BattleState::Generating => "generating",
            BattleState::Ready => "ready",
            BattleState::Voted => "voted",
            BattleState::Failed => "failed",
            BattleState::Expired => "expired",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "generating" => BattleState::Generating,
            "ready" => BattleState::Ready,
            "voted" => BattleState::Voted,
            "failed" => BattleState::Failed,
            "expired" => BattleState::Expired,
            _ => return None,
        })
    }
}

/// Progress of one side's answer within a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SideStatus {
    /// Still generating.
    Streaming,
    /// Complete.
    Done,
    /// Failed; see the side's error.
    Failed,
}

impl SideStatus {
    /// The stored status name.
    pub const fn as_str(self) -> &'static str {
        match self {
            SideStatus::Streaming => "streaming",
            SideStatus::Done => "done",
            SideStatus::Failed => "failed",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "streaming" => SideStatus::Streaming,
            "done" => SideStatus::Done,
            "failed" => SideStatus::Failed,
            _ => return None,
        })
    }
}

/// One side's answer within a turn.
#[derive(Debug, Clone, PartialEq)]
pub struct SideAnswer {
    /// The answer text (partial while streaming).
    pub text: String,
    /// Progress.
    pub status: SideStatus,
    /// Failure kind (snake_case) when failed; never upstream detail.
    pub error: Option<String>,
    /// Time to the complete answer, milliseconds.
    pub latency_ms: Option<i64>,
    /// Output tokens reported by the backend, when known.
    pub tokens: Option<i64>,
}

/// One prompt and both answers to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    /// 1-based turn number.
    pub turn: u32,
    /// The voter's prompt.
    pub prompt: String,
    /// Side A's answer.
    pub a: SideAnswer,
    /// Side B's answer.
    pub b: SideAnswer,
    /// Unix milliseconds.
    pub created_at_ms: i64,
}

impl Turn {
    /// The answer on one side.
    pub fn side(&self, side: Side) -> &SideAnswer {
        match side {
            Side::A => &self.a,
            Side::B => &self.b,
        }
    }
}

/// A stored battle with its turns and vote.
#[derive(Debug, Clone)]
pub struct Battle {
    /// Identifier shown to the voter.
    pub id: Uuid,
    /// The owning voter (a hash of the voter cookie, never the cookie).
    pub voter: String,
    /// Model on side A.
    pub model_a: Uuid,
    /// Model on side B.
    pub model_b: Uuid,
    /// Probability with which this pair was drawn.
    pub pair_probability: Option<f64>,
    /// Lifecycle state.
    pub state: BattleState,
    /// Whether an answer named a model or vendor (vote kept, not counted).
    pub identity_leak: bool,
    /// Category tags.
    pub categories: Vec<String>,
    /// Unix milliseconds.
    pub created_at_ms: i64,
    /// Unix milliseconds.
    pub updated_at_ms: i64,
    /// Turns in order.
    pub turns: Vec<Turn>,
    /// The vote, once cast.
    pub winner: Option<Winner>,
}

/// A battle to create, with its first prompt.
#[derive(Debug, Clone)]
pub struct NewBattle {
    /// Identifier (generated by the caller so it can be returned at once).
    pub id: Uuid,
    /// Owning voter hash.
    pub voter: String,
    /// Model on side A.
    pub model_a: Uuid,
    /// Model on side B.
    pub model_b: Uuid,
    /// Probability with which the pair was drawn.
    pub pair_probability: Option<f64>,
    /// Category tags.
    pub categories: Vec<String>,
    /// The first prompt.
    pub prompt: String,
    /// Unix milliseconds.
    pub now_ms: i64,
}

/// The final result of one side of a turn.
#[derive(Debug, Clone)]
pub struct SideOutcome {
    /// Which side.
    pub side: Side,
    /// The full answer text.
    pub text: String,
    /// Done or failed.
    pub status: SideStatus,
    /// Failure kind when failed.
    pub error: Option<String>,
    /// Time to the complete answer.
    pub latency_ms: Option<i64>,
    /// Output tokens.
    pub tokens: Option<i64>,
    /// Whether the answer named a model or vendor.
    pub identity_leak: bool,
}

impl SideOutcome {
    /// A failed side: `error` is the failure kind (snake_case), never
    /// upstream detail.
    pub fn failed(side: Side, text: String, error: &str, identity_leak: bool) -> Self {
        SideOutcome {
            side,
            text,
            status: SideStatus::Failed,
            error: Some(error.to_owned()),
            latency_ms: None,
            tokens: None,
            identity_leak,
        }
    }
}

/// A vote that counts for the leaderboard, with what the rating needs.
#[derive(Debug, Clone, PartialEq)]
pub struct CountedVote {
    /// The vote's id (increasing in insertion order).
    pub id: i64,
    /// Name of the model on side A.
    pub model_a: String,
    /// Name of the model on side B.
    pub model_b: String,
    /// The judgment.
    pub winner: Winner,
    /// Category tags of the battle.
    pub categories: Vec<String>,
    /// Probability with which the pair was drawn, when known.
    pub pair_probability: Option<f64>,
}

/// A flagged (anomalous) voter.
#[derive(Debug, Clone, PartialEq)]
pub struct FlaggedVoter {
    /// The voter hash.
    pub voter: String,
    /// Unix milliseconds.
    pub flagged_at_ms: i64,
    /// Why.
    pub reason: String,
    /// Votes the voter cast.
    pub votes: i64,
}

/// Exposes a secret for writing it to the database; kept in one place so a
/// grep for `expose_secret` finds every use.
pub(crate) fn expose(secret: &Option<SecretString>) -> Option<&str> {
    secret.as_ref().map(|s| s.expose_secret())
}

/// Which votes an export or a leaderboard reads.
#[derive(Debug, Clone, Default)]
pub struct VoteFilter {
    /// Only votes cast at or after this time (Unix milliseconds).
    pub since_ms: Option<i64>,
    /// Only votes cast before this time (Unix milliseconds).
    pub until_ms: Option<i64>,
    /// Only battles tagged with this category.
    pub category: Option<String>,
    /// Only votes whose id is greater (incremental reloads).
    pub after_id: Option<i64>,
}

/// One voted battle as exported: the vote, both model names and, optionally,
/// the whole conversation.
#[derive(Debug, Clone)]
pub struct ExportBattle {
    /// Battle id.
    pub battle_id: Uuid,
    /// External id when imported (the dataset's question_id).
    pub external_id: Option<String>,
    /// Side A model name.
    pub model_a: String,
    /// Side B model name.
    pub model_b: String,
    /// The judgment.
    pub winner: Winner,
    /// The voter hash (salted again before export).
    pub voter: String,
    /// Vote time, Unix milliseconds.
    pub voted_at_ms: i64,
    /// Pair sampling probability.
    pub pair_probability: Option<f64>,
    /// Category tags.
    pub categories: Vec<String>,
    /// Turns (empty unless conversations were requested).
    pub turns: Vec<Turn>,
    /// Number of turns in the battle.
    pub turn_count: u32,
}

/// A battle read from a dataset file, ready to insert.
#[derive(Debug, Clone)]
pub struct ImportedBattle {
    /// Stable key making the import idempotent.
    pub external_id: String,
    /// Side A model name (created as an imported model when unknown).
    pub model_a: String,
    /// Side B model name.
    pub model_b: String,
    /// The judgment.
    pub winner: Winner,
    /// Voter / judge as found in the file.
    pub voter: String,
    /// Vote time, Unix milliseconds.
    pub voted_at_ms: i64,
    /// Category tags.
    pub categories: Vec<String>,
    /// Conversation turns (prompt, answer a, answer b).
    pub turns: Vec<(String, String, String)>,
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Battles inserted.
    pub inserted: u64,
    /// Battles already present (same external id), skipped.
    pub skipped: u64,
}
