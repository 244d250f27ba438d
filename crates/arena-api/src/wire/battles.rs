//! Battle and vote bodies.

use arena_core::Winner;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// `{"prompt": "..."}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromptBody {
    /// The voter's prompt: not blank, no NUL character; at most
    /// `max_prompt_chars` characters (16,000 by default).
    #[schema(min_length = 1, pattern = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$")]
    pub prompt: String,
}

/// `{"battle_id": "..."}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BattleCreated {
    /// The new battle.
    pub battle_id: Uuid,
    /// The turn that started (1 for a new battle).
    pub turn: u32,
}

/// `{"winner": "model_a"}`; `tie (bothbad)` is accepted as `both_bad`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoteBody {
    /// model_a, model_b, tie or both_bad (`tie (bothbad)` is a synonym of both_bad).
    #[schema(value_type = String, example = "model_a",
        pattern = "^(model_a|model_b|tie|both_bad|tie \\(bothbad\\))$")]
    pub winner: Winner,
}

/// A model revealed after the vote.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevealedModel {
    /// Display name.
    pub name: String,
    /// Who made it.
    pub organization: Option<String>,
}

/// Both models, by side.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevealedPair {
    /// The model on side A.
    pub a: RevealedModel,
    /// The model on side B.
    pub b: RevealedModel,
}

/// The vote's answer: the winner and, now, the models.
#[derive(Debug, Serialize, ToSchema)]
pub struct VoteResult {
    /// The recorded winner (canonical name).
    #[schema(value_type = String)]
    pub winner: Winner,
    /// The revealed models.
    pub models: RevealedPair,
}

/// One side's answer within a turn.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnswerView {
    /// Text so far.
    pub text: String,
    /// streaming, done or failed.
    pub status: String,
    /// A message for a person when the side failed.
    pub error: Option<String>,
}

/// One turn.
#[derive(Debug, Serialize, ToSchema)]
pub struct TurnView {
    /// 1-based turn number.
    pub turn: u32,
    /// The prompt.
    pub prompt: String,
    /// Side A's answer.
    pub a: AnswerView,
    /// Side B's answer.
    pub b: AnswerView,
}

/// A battle as its voter sees it. `models` stays null until the vote.
#[derive(Debug, Serialize, ToSchema)]
pub struct BattleView {
    /// Identifier.
    pub battle_id: Uuid,
    /// generating, ready, voted, failed or expired.
    pub state: String,
    /// Turns so far.
    pub turns: Vec<TurnView>,
    /// The vote, once cast.
    #[schema(value_type = Option<String>)]
    pub winner: Option<Winner>,
    /// The models, only after the vote.
    pub models: Option<RevealedPair>,
    /// RFC 3339 creation time.
    pub created_at: String,
}
