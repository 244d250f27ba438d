//! What the caller tells the dispatcher: which backend, with which
//! settings, and the conversation so far.

use std::fmt;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// Where and how to reach one model.
///
/// A `base_url` starting with `demo://` selects the built-in demo backend
/// (no network, no key); anything else is an OpenAI-compatible root such as
/// `http://127.0.0.1:8000/v1`.
#[derive(Clone)]
pub struct BackendSpec {
    /// OpenAI-compatible root (`…/v1`), or `demo://`.
    pub base_url: String,
    /// The upstream model id, sent as `model` in the request.
    pub model: String,
    /// Sent as a bearer token when present; no `Authorization` header otherwise.
    pub api_key: Option<SecretString>,
    /// Sampling parameters and extra request fields.
    pub params: GenerationParams,
    /// Prepended to every conversation as a `system` message.
    pub system_prompt: Option<String>,
}

impl BackendSpec {
    /// Whether this spec selects the built-in demo backend.
    pub fn is_demo(&self) -> bool {
        self.base_url.starts_with(crate::demo::DEMO_SCHEME)
    }
}

// Hand-written so that the key can never reach a log line.
impl fmt::Debug for BackendSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendSpec")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("params", &self.params)
            .field("system_prompt", &self.system_prompt)
            .finish()
    }
}

/// Sampling parameters of a model, as stored with it.
///
/// Serialized flat: `{"temperature":0.7,"max_tokens":512,"seed":1}` puts
/// `seed` into [`extra`](Self::extra). Every `extra` field is copied into
/// the upstream request body as is (it may override what the dispatcher
/// sets, except `model`, `messages` and `stream`); a `null` value removes
/// the field, e.g. `"stream_options": null` for a server that rejects it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GenerationParams {
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Upper bound on generated tokens, sent as `max_tokens` (what most
    /// OpenAI-compatible servers read; for OpenAI's reasoning models put
    /// `max_completion_tokens` in `extra` instead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Any other request field, passed through to the upstream.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions for the model.
    System,
    /// The voter.
    User,
    /// The model.
    Assistant,
}

impl Role {
    /// `"system"`, `"user"` or `"assistant"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One message of a conversation: `{"role":"user","content":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who wrote it.
    pub role: Role,
    /// Plain text (Markdown for answers).
    pub content: String,
}

impl ChatMessage {
    /// A message from the voter.
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
        }
    }

    /// A message from the model.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: content.into(),
        }
    }

    /// Instructions for the model.
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: Role::System,
            content: content.into(),
        }
    }
}

/// One side's share of a turn.
#[derive(Debug, Clone)]
pub struct TurnRequest {
    /// The model that answers on this side.
    pub backend: BackendSpec,
    /// This side's own conversation: previous turns (with this side's own
    /// answers) and, last, the new user prompt. Without the system prompt,
    /// which the dispatcher prepends from [`BackendSpec::system_prompt`].
    pub history: Vec<ChatMessage>,
    /// Names that identify this model (registered name, organization,
    /// upstream id), for [`mentions_identity`](crate::mentions_identity).
    pub identity: Vec<String>,
}
