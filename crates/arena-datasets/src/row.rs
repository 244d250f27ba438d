//! The in-memory shape of one vote: [`BattleRow`] and its [`Message`]s.

use std::collections::BTreeMap;

use arena_core::Winner;
use serde::{Deserialize, Serialize};

/// One message of a conversation, as OpenAI-style chat APIs and FastChat
/// write it.
///
/// Deserializing is lenient because public datasets are: a missing role or
/// content becomes an empty string, a non-text content (for example a list
/// of multimodal parts) is kept as its JSON text, and unknown keys such as
/// `num_tokens` are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "LenientMessage")]
pub struct Message {
    /// `user`, `assistant`, `system`…
    pub role: String,
    /// The text of the message.
    pub content: String,
}

impl Message {
    /// A message with the given role and content.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Message {
            role: role.into(),
            content: content.into(),
        }
    }
}

/// What a message looks like in the wild, before we tidy it up.
#[derive(Deserialize)]
struct LenientMessage {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    content: Option<serde_json::Value>,
}

impl From<LenientMessage> for Message {
    fn from(raw: LenientMessage) -> Self {
        let content = match raw.content {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(text)) => text,
            Some(other) => other.to_string(),
        };
        Message {
            role: raw.role.unwrap_or_default(),
            content,
        }
    }
}

/// One voted battle, the unit of every dataset file.
///
/// The first ten fields are the export contract's columns, in its order.
/// `language`, `categories` and `extra` hold everything else a file carries;
/// writers emit them only when named in
/// [`WriteOptions::extra_columns`](crate::WriteOptions::extra_columns).
#[derive(Debug, Clone, PartialEq)]
pub struct BattleRow {
    /// Stable identifier of the battle. When a file has neither
    /// `question_id` nor `id`, readers derive one from the row's content (see
    /// [`derive_question_id`](crate::derive_question_id)).
    pub question_id: String,
    /// The model shown on side A.
    pub model_a: String,
    /// The model shown on side B.
    pub model_b: String,
    /// The vote.
    pub winner: Winner,
    /// The voter as exports show it: a salted hash, never a cookie or IP.
    pub judge: Option<String>,
    /// Number of user turns before the vote; 1 when the file does not say.
    pub turn: u32,
    /// Whether model names were hidden when the vote was cast; true when the
    /// file does not say.
    pub anony: bool,
    /// When the vote was cast, in Unix seconds.
    pub tstamp: Option<f64>,
    /// Side A's conversation, when the file carries it.
    pub conversation_a: Option<Vec<Message>>,
    /// Side B's conversation, when the file carries it.
    pub conversation_b: Option<Vec<Message>>,
    /// Language of the conversation, e.g. `English` (LMArena datasets).
    pub language: Option<String>,
    /// Boolean category flags such as `is_code`.
    ///
    /// On input, any column whose value is a JSON boolean or, in CSV, one of
    /// `true`/`True`/`TRUE`/`false`/`False`/`FALSE` lands here, and so do the
    /// boolean leaves of LMArena's nested `category_tag` object, named by
    /// their path joined with dots as pandas' `json_normalize` does:
    /// `category_tag.criteria_v0.1.complexity`.
    pub categories: BTreeMap<String, bool>,
    /// Any other column: research values such as `pair_probability`,
    /// `latency_a_ms`, `tokens_a`, style features, and unknown columns of
    /// foreign datasets (kept so nothing is silently lost).
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl BattleRow {
    /// A row with the mandatory fields and every other field at its default
    /// (`turn` 1, `anony` true, nothing else).
    pub fn new(
        question_id: impl Into<String>,
        model_a: impl Into<String>,
        model_b: impl Into<String>,
        winner: Winner,
    ) -> Self {
        BattleRow {
            question_id: question_id.into(),
            model_a: model_a.into(),
            model_b: model_b.into(),
            winner,
            judge: None,
            turn: 1,
            anony: true,
            tstamp: None,
            conversation_a: None,
            conversation_b: None,
            language: None,
            categories: BTreeMap::new(),
            extra: BTreeMap::new(),
        }
    }

    /// Whether the boolean column `column` is true for this row; see
    /// [`category_true`].
    pub fn category(&self, column: &str) -> bool {
        category_true(self, column)
    }

    /// The names of every non-contract column this row carries: `language`
    /// when set, then the categories, then the extras. Handy to build
    /// [`WriteOptions::extra_columns`](crate::WriteOptions::extra_columns)
    /// from a sample of rows.
    pub fn extra_column_names(&self) -> impl Iterator<Item = &str> {
        self.language
            .as_ref()
            .map(|_| crate::columns::LANGUAGE)
            .into_iter()
            .chain(self.categories.keys().map(String::as_str))
            .chain(self.extra.keys().map(String::as_str))
    }
}

/// The semantics of `arena leaderboard --category COLUMN`: whether the row's
/// boolean column `column` is true.
///
/// A flag in [`BattleRow::categories`] decides first. Otherwise an entry of
/// [`BattleRow::extra`] counts as true when it is the boolean `true`, the
/// number 1, or the text `true`/`True`/`TRUE`/`1`; this covers files that
/// store flags as 0/1 integers, which readers keep as numbers. A row without
/// the column is not in the category.
pub fn category_true(row: &BattleRow, column: &str) -> bool {
    if let Some(flag) = row.categories.get(column) {
        return *flag;
    }
    match row.extra.get(column) {
        Some(serde_json::Value::Bool(flag)) => *flag,
        Some(serde_json::Value::Number(n)) => n.as_f64() == Some(1.0),
        Some(serde_json::Value::String(text)) => crate::builder::parse_bool(text) == Some(true),
        _ => false,
    }
}
