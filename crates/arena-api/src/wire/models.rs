//! Model registry bodies.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::double_option;

/// A registered model as admins see it. The API key is write-only: only
/// `has_api_key` tells whether one is set.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelView {
    /// Stable identifier.
    pub id: Uuid,
    /// Public display name.
    pub name: String,
    /// OpenAI-compatible root URL.
    pub base_url: String,
    /// Upstream model id.
    pub model: String,
    /// Whether a key (literal or environment variable) is configured.
    pub has_api_key: bool,
    /// Name of the environment variable holding the key, if any.
    pub api_key_env: Option<String>,
    /// Who made the model.
    pub organization: Option<String>,
    /// The model's licence.
    pub license: Option<String>,
    /// Generation parameters.
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// System prompt.
    pub system_prompt: Option<String>,
    /// Relative sampling weight.
    pub weight: f64,
    /// Whether the model may be sampled.
    pub enabled: bool,
    /// Whether the model is retired.
    pub retired: bool,
    /// Where the registration came from: api, config, demo or import.
    pub source: String,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// Backend health, when the model has served battles on this instance.
    pub health: Option<HealthView>,
}

/// Backend health of a model on this instance.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthView {
    /// Kind of the last failure (snake_case), if any.
    pub last_error: Option<String>,
    /// Share of recent requests that failed.
    pub error_rate: f64,
    /// Median latency of recent answers, milliseconds.
    pub p50_latency_ms: Option<u64>,
    /// Failures in a row.
    pub consecutive_failures: u32,
    /// RFC 3339 end of the cool-down when the model is out of sampling.
    pub cooling_down_until: Option<String>,
}

/// `{"models": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelList {
    /// Every model, retired ones included.
    pub models: Vec<ModelView>,
}

/// Registration body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateModel {
    /// Public display name (unique): 1–100 characters, no control
    /// characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: String,
    /// OpenAI-compatible root, e.g. `http://127.0.0.1:8000/v1`, or `demo://local`.
    #[schema(
        max_length = 2048,
        pattern = r"^(https?://[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[1-9][0-9]{0,3})?(/[A-Za-z0-9._~-]+)*/?|demo://[A-Za-z0-9._-]*)$"
    )]
    pub base_url: String,
    /// Upstream model id: 1–200 characters, no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub model: String,
    /// API key (write-only): printable, not blank.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 4096,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub api_key: Option<String>,
    /// Environment variable holding the API key, instead of a literal key.
    #[serde(default)]
    #[schema(pattern = r"^[A-Za-z0-9_]+$")]
    pub api_key_env: Option<String>,
    /// Who made the model (at most 200 characters).
    #[serde(default)]
    #[schema(max_length = 200)]
    pub organization: Option<String>,
    /// The model's licence (at most 200 characters).
    #[serde(default)]
    #[schema(max_length = 200)]
    pub license: Option<String>,
    /// Generation parameters (temperature, max_tokens, top_p, others passed through).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub params: Option<serde_json::Value>,
    /// System prompt (at most 32,000 characters).
    #[serde(default)]
    #[schema(max_length = 32000)]
    pub system_prompt: Option<String>,
    /// Relative sampling weight (default 1), from 0 to 1,000,000.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000000)]
    pub weight: Option<f64>,
    /// Whether the model may be sampled (default true).
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// Partial update; absent fields stay, `null` clears nullable fields.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchModel {
    /// New name (as at registration).
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: Option<String>,
    /// New base URL (as at registration).
    #[serde(default)]
    #[schema(
        max_length = 2048,
        pattern = r"^(https?://[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[1-9][0-9]{0,3})?(/[A-Za-z0-9._~-]+)*/?|demo://[A-Za-z0-9._-]*)$"
    )]
    pub base_url: Option<String>,
    /// New upstream model id (as at registration).
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub model: Option<String>,
    /// Rotate (string) or remove (null) the API key.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 4096, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$")]
    pub api_key: Option<Option<String>>,
    /// Change or remove the key variable.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, pattern = r"^[A-Za-z0-9_]+$")]
    pub api_key_env: Option<Option<String>>,
    /// Change or remove the organization.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub organization: Option<Option<String>>,
    /// Change or remove the licence.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub license: Option<Option<String>>,
    /// Replace the generation parameters.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub params: Option<serde_json::Value>,
    /// Change or remove the system prompt.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 32000)]
    pub system_prompt: Option<Option<String>>,
    /// New weight, from 0 to 1,000,000.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000000)]
    pub weight: Option<f64>,
    /// Enable or disable.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// `{"role": "researcher", "label": "..."}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// `researcher` or `admin`.
    #[schema(pattern = "^(researcher|admin)$")]
    pub role: String,
    /// A note saying who holds the token.
    #[serde(default)]
    pub label: String,
}

/// The new token, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewToken {
    /// The bearer token.
    pub token: String,
    /// Its role.
    pub role: String,
    /// Its label.
    pub label: String,
}

/// One flagged voter.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlaggedVoterView {
    /// The voter's judge hash (as in exports).
    pub judge: String,
    /// Votes the voter cast (kept, not counted).
    pub votes: i64,
    /// RFC 3339 time of flagging.
    pub flagged_at: String,
    /// Why the voter was flagged.
    pub reason: String,
}

/// `{"voters": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlaggedVoterList {
    /// Flagged voters.
    pub voters: Vec<FlaggedVoterView>,
}
