//! Column names: the export contract's, and how readers recognise them.

/// `question_id`: the battle's stable identifier.
pub const QUESTION_ID: &str = "question_id";
/// `id`: LMArena's newer name for `question_id`, read as a fallback.
pub const ID: &str = "id";
/// `model_a`: the model on side A (mandatory on input).
pub const MODEL_A: &str = "model_a";
/// `model_b`: the model on side B (mandatory on input).
pub const MODEL_B: &str = "model_b";
/// `winner`: `model_a`, `model_b`, `tie` or `both_bad` (mandatory on input).
pub const WINNER: &str = "winner";
/// `judge`: the voter's salted hash.
pub const JUDGE: &str = "judge";
/// `turn`: number of user turns.
pub const TURN: &str = "turn";
/// `anony`: whether model names were hidden.
pub const ANONY: &str = "anony";
/// `tstamp`: vote time in Unix seconds (float).
pub const TSTAMP: &str = "tstamp";
/// `timestamp`: LMArena's newer name for `tstamp` (a date-time), read as
/// `tstamp`.
pub const TIMESTAMP: &str = "timestamp";
/// `conversation_a`: side A's messages.
pub const CONVERSATION_A: &str = "conversation_a";
/// `conversation_b`: side B's messages.
pub const CONVERSATION_B: &str = "conversation_b";
/// `language`: language of the conversation.
pub const LANGUAGE: &str = "language";
/// `category_tag`: LMArena's nested category object, flattened on input.
pub const CATEGORY_TAG: &str = "category_tag";

/// The export contract's columns, in order. Writers omit the last two when
/// conversations are not requested.
pub const CONTRACT: [&str; 10] = [
    QUESTION_ID,
    MODEL_A,
    MODEL_B,
    WINNER,
    JUDGE,
    TURN,
    ANONY,
    TSTAMP,
    CONVERSATION_A,
    CONVERSATION_B,
];

/// The columns an input must have, whatever its format.
pub const REQUIRED: [&str; 3] = [MODEL_A, MODEL_B, WINNER];

/// What a reader does with a column, decided once per file (CSV, Parquet) or
/// per key (JSON) so that rows are not matched against strings repeatedly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Column {
    QuestionId,
    Id,
    ModelA,
    ModelB,
    Winner,
    Judge,
    Turn,
    Anony,
    Tstamp,
    ConversationA,
    ConversationB,
    Language,
    CategoryTag,
    /// Anything else: a category flag or an extra value.
    Other,
}

impl Column {
    /// Recognises a column name; names are case-sensitive, as in pandas.
    pub(crate) fn from_name(name: &str) -> Column {
        match name {
            QUESTION_ID => Column::QuestionId,
            ID => Column::Id,
            MODEL_A => Column::ModelA,
            MODEL_B => Column::ModelB,
            WINNER => Column::Winner,
            JUDGE => Column::Judge,
            TURN => Column::Turn,
            ANONY => Column::Anony,
            // LMArena's newer releases name the vote time `timestamp`.
            TSTAMP | TIMESTAMP => Column::Tstamp,
            CONVERSATION_A => Column::ConversationA,
            CONVERSATION_B => Column::ConversationB,
            LANGUAGE => Column::Language,
            CATEGORY_TAG => Column::CategoryTag,
            _ => Column::Other,
        }
    }
}
