//! Turning stored text back into typed values, with a clear error when a row
//! breaks the schema's invariants.

use arena_core::Winner;

use crate::error::{Result, StorageError};
use crate::types::{BattleState, ModelSource, SideStatus};

pub(crate) fn battle_state(text: &str) -> Result<BattleState> {
    BattleState::parse(text).ok_or_else(|| StorageError::Corrupt(format!("battle state {text:?}")))
}

pub(crate) fn side_status(text: &str) -> Result<SideStatus> {
    SideStatus::parse(text).ok_or_else(|| StorageError::Corrupt(format!("side status {text:?}")))
}

pub(crate) fn model_source(text: &str) -> Result<ModelSource> {
    ModelSource::parse(text).ok_or_else(|| StorageError::Corrupt(format!("model source {text:?}")))
}

pub(crate) fn winner(text: &str) -> Result<Winner> {
    text.parse()
        .map_err(|_| StorageError::Corrupt(format!("winner {text:?}")))
}

/// Turn numbers are small positive integers stored as INTEGER/BIGINT.
pub(crate) fn turn_number(value: i64) -> Result<u32> {
    u32::try_from(value).map_err(|_| StorageError::Corrupt(format!("turn {value}")))
}

/// A battle's categories from their stored JSON text (an array of strings).
pub(crate) fn categories(text: &str) -> Result<Vec<String>> {
    // Most battles have none: no parser for them.
    if text == "[]" {
        return Ok(Vec::new());
    }
    serde_json::from_str(text)
        .map_err(|e| StorageError::Corrupt(format!("categories {text:?}: {e}")))
}

/// Keeps a vote only when it matches the category filter.
pub(crate) fn in_category(categories: &[String], wanted: Option<&str>) -> bool {
    wanted.is_none_or(|c| categories.iter().any(|have| have == c))
}
