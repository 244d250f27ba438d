//! One line of a JSONL battles file, as the leaderboard needs it.
//!
//! The general reader builds a whole `BattleRow` per line (every key
//! recognised, every value converted, conversations kept). Here serde reads
//! the three needed keys as borrowed text and skips the others without
//! building anything. A line it cannot take as three strings (a number for
//! a model name, `null`, a repeated key, a byte-order mark) stops the fast
//! path, and the general reader reads the file instead, with its own rules
//! and messages.

use std::borrow::Cow;

use serde::Deserialize;

use super::tally::Tally;

/// The needed keys; unknown keys are skipped (serde's default).
#[derive(Deserialize)]
struct Vote<'a> {
    #[serde(borrow)]
    model_a: Cow<'a, str>,
    #[serde(borrow)]
    model_b: Cow<'a, str>,
    #[serde(borrow)]
    winner: Cow<'a, str>,
}

/// Counts the vote of one (non-blank) line.
pub(super) fn vote(line: &[u8], at: u64, tally: &mut Tally) -> Result<(), String> {
    let vote: Vote<'_> = serde_json::from_slice(line).map_err(|error| error.to_string())?;
    let fields = [
        vote.model_a.as_bytes(),
        vote.model_b.as_bytes(),
        vote.winner.as_bytes(),
    ];
    tally.vote(at, |i| fields[i])
}
