//! Assembling a [`BattleRow`] from the loosely typed cells of foreign files.
//!
//! Every reader funnels its cells through [`RowBuilder`], so the tolerance
//! rules (synonyms, defaults, what counts as a boolean, how `category_tag` is
//! flattened) live in one place and behave the same in every format.

use std::collections::BTreeMap;

use arena_core::Winner;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::columns::Column;
use crate::error::Location;
use crate::{BattleRow, DatasetError, Message};

/// Parses the spellings of a boolean found in CSV exports of pandas,
/// spreadsheets and databases.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    match text.trim() {
        "true" | "True" | "TRUE" | "1" => Some(true),
        "false" | "False" | "FALSE" | "0" => Some(false),
        _ => None,
    }
}

/// Cells of one row, collected in any order, checked in [`RowBuilder::finish`].
#[derive(Debug, Default)]
pub(crate) struct RowBuilder {
    question_id: Option<String>,
    id: Option<String>,
    model_a: Option<String>,
    model_b: Option<String>,
    winner: Option<Winner>,
    judge: Option<String>,
    turn: Option<u32>,
    anony: Option<bool>,
    tstamp: Option<f64>,
    conversation_a: Option<Vec<Message>>,
    conversation_b: Option<Vec<Message>>,
    language: Option<String>,
    categories: BTreeMap<String, bool>,
    extra: BTreeMap<String, Value>,
    /// The first problem found. Cells keep being collected after it so that
    /// readers need no early-exit paths, but only this one is reported: it is
    /// the first the user will meet when reading the row left to right.
    problem: Option<String>,
}

impl RowBuilder {
    /// Records a problem with the row.
    pub(crate) fn fail(&mut self, message: impl Into<String>) {
        if self.problem.is_none() {
            self.problem = Some(message.into());
        }
    }

    /// Sets a text column (`question_id`, `id`, models, `judge`,
    /// `language`). Empty text counts as absent, as in pandas.
    pub(crate) fn set_text(&mut self, column: Column, value: String) {
        let slot = match column {
            Column::QuestionId => &mut self.question_id,
            Column::Id => &mut self.id,
            Column::ModelA => &mut self.model_a,
            Column::ModelB => &mut self.model_b,
            Column::Judge => &mut self.judge,
            Column::Language => &mut self.language,
            _ => {
                debug_assert!(false, "{column:?} is not a text column");
                return;
            }
        };
        *slot = if value.is_empty() { None } else { Some(value) };
    }

    /// Sets the winner from any accepted spelling.
    pub(crate) fn set_winner_text(&mut self, text: &str) {
        if text.trim().is_empty() {
            return;
        }
        match text.parse::<Winner>() {
            Ok(winner) => self.winner = Some(winner),
            // Keep the short form the brief asks for: `unknown winner "draw"`.
            Err(err) => self.fail(format!("unknown winner {:?}", err.0)),
        }
    }

    /// Sets `turn` from an integer.
    pub(crate) fn set_turn(&mut self, turn: i64) {
        match u32::try_from(turn) {
            Ok(turn) => self.turn = Some(turn),
            Err(_) => self.fail(format!("turn {turn} is out of range")),
        }
    }

    /// Sets `turn` from a float that should be integral (pandas turns
    /// integer columns with gaps into floats).
    pub(crate) fn set_turn_float(&mut self, turn: f64) {
        if turn.fract() == 0.0 && turn.is_finite() {
            self.set_turn(turn as i64);
        } else {
            self.fail(format!("turn {turn} is not a whole number"));
        }
    }

    /// Sets `turn` from text.
    pub(crate) fn set_turn_text(&mut self, text: &str) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        if let Ok(turn) = text.parse::<i64>() {
            self.set_turn(turn);
        } else if let Ok(turn) = text.parse::<f64>() {
            self.set_turn_float(turn);
        } else {
            self.fail(format!("turn {text:?} is not a number"));
        }
    }

    /// Sets `anony`.
    pub(crate) fn set_anony(&mut self, anony: bool) {
        self.anony = Some(anony);
    }

    /// Sets `anony` from text.
    pub(crate) fn set_anony_text(&mut self, text: &str) {
        if text.trim().is_empty() {
            return;
        }
        match parse_bool(text) {
            Some(anony) => self.anony = Some(anony),
            None => self.fail(format!("anony {text:?} is not a boolean")),
        }
    }

    /// Sets `tstamp` in Unix seconds. A NaN (pandas' missing value) counts
    /// as absent.
    pub(crate) fn set_tstamp(&mut self, tstamp: f64) {
        if tstamp.is_nan() {
            return;
        }
        if tstamp.is_finite() {
            self.tstamp = Some(tstamp);
        } else {
            self.fail(format!("tstamp {tstamp} is not finite"));
        }
    }

    /// Sets `tstamp` from text holding Unix seconds or an ISO 8601
    /// date-time (UTC unless it carries an offset).
    pub(crate) fn set_tstamp_text(&mut self, text: &str) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        match text
            .parse::<f64>()
            .ok()
            .or_else(|| crate::timestamp::parse_datetime(text))
        {
            Some(tstamp) => self.set_tstamp(tstamp),
            None => self.fail(format!(
                "tstamp {text:?} is neither Unix seconds nor an ISO 8601 date-time"
            )),
        }
    }

    /// Sets a conversation column.
    pub(crate) fn set_conversation(&mut self, column: Column, messages: Vec<Message>) {
        match column {
            Column::ConversationA => self.conversation_a = Some(messages),
            Column::ConversationB => self.conversation_b = Some(messages),
            _ => debug_assert!(false, "{column:?} is not a conversation column"),
        }
    }

    /// Sets a conversation from its JSON text (CSV cells, Parquet strings,
    /// JSON files that double-encode).
    pub(crate) fn set_conversation_text(&mut self, column: Column, text: &str) {
        if text.trim().is_empty() {
            return;
        }
        match serde_json::from_str::<Option<Vec<Message>>>(text) {
            Ok(Some(messages)) => self.set_conversation(column, messages),
            Ok(None) => {}
            Err(err) => {
                let name = if column == Column::ConversationA {
                    "conversation_a"
                } else {
                    "conversation_b"
                };
                self.fail(format!("{name} is not a JSON list of messages: {err}"));
            }
        }
    }

    /// Flattens LMArena's `category_tag` object: boolean leaves become
    /// categories named by their dotted path, other leaves become extras
    /// under the same name. Text is parsed as JSON first (CSV cells).
    pub(crate) fn set_category_tag(&mut self, value: Value) {
        let value = match value {
            Value::String(text) if text.trim().is_empty() => return,
            Value::String(text) => match serde_json::from_str::<Value>(&text) {
                Ok(parsed) => parsed,
                Err(_) => Value::String(text),
            },
            other => other,
        };
        let mut path = String::from(crate::columns::CATEGORY_TAG);
        self.flatten(&mut path, value);
    }

    fn flatten(&mut self, path: &mut String, value: Value) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    let len = path.len();
                    path.push('.');
                    path.push_str(&key);
                    self.flatten(path, value);
                    path.truncate(len);
                }
            }
            other => self.set_other(path.clone(), other),
        }
    }

    /// Sets a column this crate has no field for: booleans become
    /// categories, nulls are dropped, anything else is kept in `extra`.
    pub(crate) fn set_other(&mut self, name: String, value: Value) {
        match value {
            Value::Bool(flag) => {
                self.categories.insert(name, flag);
            }
            Value::Null => {}
            other => {
                self.extra.insert(name, other);
            }
        }
    }

    /// Sets an unknown column from CSV text, guessing its type: boolean
    /// words become categories, numbers and JSON objects/lists are parsed,
    /// anything else stays text. `0`/`1` stay numbers, because counts such as
    /// `tokens_a` look the same; [`crate::category_true`] still reads them as
    /// flags.
    pub(crate) fn set_other_text(&mut self, name: &str, text: &str) {
        if text.is_empty() {
            return;
        }
        let value = match text {
            "true" | "True" | "TRUE" => Value::Bool(true),
            "false" | "False" | "FALSE" => Value::Bool(false),
            _ => guess_value(text),
        };
        self.set_other(name.to_owned(), value);
    }

    /// Checks the mandatory fields, applies defaults and derives a missing
    /// `question_id`.
    pub(crate) fn finish(
        self,
        location: impl FnOnce() -> Location,
    ) -> Result<BattleRow, DatasetError> {
        if let Some(problem) = self.problem {
            return Err(DatasetError::malformed(location(), problem));
        }
        let (Some(model_a), Some(model_b), Some(winner)) =
            (self.model_a, self.model_b, self.winner)
        else {
            let missing = if self.winner.is_none() {
                "winner"
            } else {
                "model_a or model_b"
            };
            return Err(DatasetError::malformed(
                location(),
                format!("missing {missing}"),
            ));
        };
        let mut row = BattleRow {
            question_id: self.question_id.or(self.id).unwrap_or_default(),
            model_a,
            model_b,
            winner,
            judge: self.judge,
            turn: self.turn.unwrap_or(1),
            anony: self.anony.unwrap_or(true),
            tstamp: self.tstamp,
            conversation_a: self.conversation_a,
            conversation_b: self.conversation_b,
            language: self.language,
            categories: self.categories,
            extra: self.extra,
        };
        if row.question_id.is_empty() {
            row.question_id = derive_question_id(&row);
        }
        Ok(row)
    }
}

/// Guesses the JSON value of a CSV cell.
fn guess_value(text: &str) -> Value {
    if let Ok(int) = text.parse::<i64>() {
        return Value::from(int);
    }
    if let Ok(float) = text.parse::<f64>() {
        // NaN and infinities have no JSON form; pandas writes NaN for missing.
        return serde_json::Number::from_f64(float).map_or(Value::Null, Value::Number);
    }
    if matches!(text.as_bytes().first(), Some(b'{' | b'['))
        && let Ok(value) = serde_json::from_str(text)
    {
        return value;
    }
    Value::String(text.to_owned())
}

/// A stable identifier for a row whose file has no `question_id`: the first
/// 128 bits of a SHA-256 over the vote's content, as 32 lowercase hex digits
/// (the shape of LMArena's ids).
///
/// The hash covers `model_a`, `model_b`, `winner` (canonical name), `judge`,
/// `turn`, `anony`, `tstamp` (its exact bits), both conversations (roles and
/// contents) and `language`, each length-prefixed so that no two rows share
/// an input. Categories and extras are left out: they are derived
/// annotations, and re-annotating a file must not change its ids. Importing
/// the same file twice therefore yields the same ids, which keeps imports
/// idempotent.
pub fn derive_question_id(row: &BattleRow) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"arena-datasets question_id v1");
    let mut field = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    field(row.model_a.as_bytes());
    field(row.model_b.as_bytes());
    field(row.winner.as_str().as_bytes());
    field(row.judge.as_deref().unwrap_or_default().as_bytes());
    field(&row.turn.to_le_bytes());
    field(&[u8::from(row.anony)]);
    field(
        &row.tstamp
            .map(f64::to_bits)
            .unwrap_or(u64::MAX)
            .to_le_bytes(),
    );
    for conversation in [&row.conversation_a, &row.conversation_b] {
        let messages = conversation.as_deref().unwrap_or_default();
        field(&(messages.len() as u64).to_le_bytes());
        for message in messages {
            field(message.role.as_bytes());
            field(message.content.as_bytes());
        }
    }
    field(row.language.as_deref().unwrap_or_default().as_bytes());
    let digest = hasher.finalize();
    let mut id = String::with_capacity(32);
    for byte in &digest[..16] {
        use std::fmt::Write as _;
        let _ = write!(id, "{byte:02x}");
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location() -> Location {
        Location::line(None, 17)
    }

    fn minimal() -> RowBuilder {
        let mut b = RowBuilder::default();
        b.set_text(Column::ModelA, "a".into());
        b.set_text(Column::ModelB, "b".into());
        b.set_winner_text("tie (bothbad)");
        b
    }

    #[test]
    fn applies_defaults_and_derives_a_stable_id() {
        let row = minimal().finish(location).unwrap();
        assert_eq!(row.winner, Winner::BothBad);
        assert_eq!((row.turn, row.anony), (1, true));
        assert_eq!(row.question_id.len(), 32);
        assert_eq!(
            row.question_id,
            minimal().finish(location).unwrap().question_id
        );
        let mut other = minimal();
        other.set_turn(2);
        assert_ne!(row.question_id, other.finish(location).unwrap().question_id);
    }

    #[test]
    fn falls_back_to_id() {
        let mut b = minimal();
        b.set_text(Column::Id, "abc".into());
        assert_eq!(b.finish(location).unwrap().question_id, "abc");
    }

    #[test]
    fn reports_the_first_problem_with_its_line() {
        let mut b = minimal();
        b.set_winner_text("draw");
        b.set_turn_text("x");
        let err = b.finish(location).unwrap_err().to_string();
        assert_eq!(err, "line 17: unknown winner \"draw\"");

        let mut b = RowBuilder::default();
        b.set_text(Column::ModelA, "a".into());
        b.set_winner_text("model_a");
        let err = b.finish(location).unwrap_err().to_string();
        assert_eq!(err, "line 17: missing model_a or model_b");
    }

    #[test]
    fn flattens_category_tag_with_dotted_paths() {
        let mut b = minimal();
        b.set_category_tag(serde_json::json!({
            "criteria_v0.1": {"complexity": true, "creativity": false},
            "if_v0.1": {"if": false, "score": 3},
        }));
        let row = b.finish(location).unwrap();
        assert_eq!(
            row.categories.get("category_tag.criteria_v0.1.complexity"),
            Some(&true)
        );
        assert_eq!(
            row.categories.get("category_tag.criteria_v0.1.creativity"),
            Some(&false)
        );
        assert_eq!(
            row.extra.get("category_tag.if_v0.1.score"),
            Some(&Value::from(3))
        );
    }

    #[test]
    fn guesses_csv_cell_types() {
        let mut b = minimal();
        for (name, text) in [
            ("is_code", "True"),
            ("tokens_a", "12"),
            ("pair_probability", "0.25"),
            ("note", "hello"),
            ("empty", ""),
            ("missing", "NaN"),
        ] {
            b.set_other_text(name, text);
        }
        let row = b.finish(location).unwrap();
        assert_eq!(row.categories.get("is_code"), Some(&true));
        assert_eq!(row.extra.get("tokens_a"), Some(&Value::from(12)));
        assert_eq!(row.extra.get("pair_probability"), Some(&Value::from(0.25)));
        assert_eq!(row.extra.get("note"), Some(&Value::from("hello")));
        assert!(!row.extra.contains_key("empty"));
        assert!(!row.extra.contains_key("missing"));
    }
}
