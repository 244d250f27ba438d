use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The outcome of one blind comparison, as the voter judged it.
///
/// Every output writes the canonical snake_case names; every input also
/// accepts `tie (bothbad)`, the spelling used by FastChat and LMArena
/// datasets, as a synonym of [`Winner::BothBad`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Winner {
    /// The answer on side A was better.
    ModelA,
    /// The answer on side B was better.
    ModelB,
    /// Both answers were equally good.
    Tie,
    /// Both answers were bad (counts as a tie for ratings).
    BothBad,
}

impl Winner {
    /// Every winner, in the order the voting buttons show them.
    pub const ALL: [Winner; 4] = [Winner::ModelA, Winner::ModelB, Winner::Tie, Winner::BothBad];

    /// The canonical name written to every output.
    pub const fn as_str(self) -> &'static str {
        match self {
            Winner::ModelA => "model_a",
            Winner::ModelB => "model_b",
            Winner::Tie => "tie",
            Winner::BothBad => "both_bad",
        }
    }

    /// Side A's score in the Bradley–Terry sense: 1 for a win, 0 for a loss,
    /// one half for either kind of tie.
    pub const fn score_a(self) -> f64 {
        match self {
            Winner::ModelA => 1.0,
            Winner::ModelB => 0.0,
            Winner::Tie | Winner::BothBad => 0.5,
        }
    }

    /// The winner spelled exactly as one of the accepted spellings, as bytes
    /// (no surrounding space): the allocation-free test that file readers
    /// try first, before [`str::parse`] (which also trims and explains).
    pub fn from_exact_bytes(spelling: &[u8]) -> Option<Winner> {
        match spelling {
            b"model_a" => Some(Winner::ModelA),
            b"model_b" => Some(Winner::ModelB),
            b"tie" => Some(Winner::Tie),
            b"both_bad" | b"tie (bothbad)" => Some(Winner::BothBad),
            _ => None,
        }
    }

    /// The same judgment seen with the sides swapped.
    pub const fn swapped(self) -> Winner {
        match self {
            Winner::ModelA => Winner::ModelB,
            Winner::ModelB => Winner::ModelA,
            other => other,
        }
    }
}

impl fmt::Display for Winner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A winner string that is none of the accepted spellings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown winner {0:?}: expected model_a, model_b, tie, both_bad or \"tie (bothbad)\"")]
pub struct ParseWinnerError(pub String);

impl FromStr for Winner {
    type Err = ParseWinnerError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let spelling = s.trim();
        Winner::from_exact_bytes(spelling.as_bytes())
            .ok_or_else(|| ParseWinnerError(spelling.to_owned()))
    }
}

impl Serialize for Winner {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Winner {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// One side of the battle screen. Sides are assigned at random per battle,
/// so a side says nothing about which model answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The left answer, labelled "Model A".
    A,
    /// The right answer, labelled "Model B".
    B,
}

impl Side {
    /// Both sides, A first.
    pub const BOTH: [Side; 2] = [Side::A, Side::B];

    /// `"a"` or `"b"`, as written in events and the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            Side::A => "a",
            Side::B => "b",
        }
    }

    /// The other side.
    pub const fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_spelling_and_writes_the_canonical_one() {
        let cases = [
            ("model_a", Winner::ModelA),
            ("model_b", Winner::ModelB),
            ("tie", Winner::Tie),
            ("both_bad", Winner::BothBad),
            ("tie (bothbad)", Winner::BothBad),
        ];
        for (text, expected) in cases {
            let parsed: Winner = text.parse().expect("valid winner");
            assert_eq!(parsed, expected, "{text}");
            let json = serde_json::to_string(&parsed).expect("serialize");
            assert_eq!(json, format!("\"{}\"", expected.as_str()));
        }
        assert!("draw".parse::<Winner>().is_err());
    }

    #[test]
    fn swapping_sides_mirrors_the_score() {
        for winner in Winner::ALL {
            assert_eq!(winner.swapped().score_a(), 1.0 - winner.score_a());
            assert_eq!(winner.swapped().swapped(), winner);
        }
    }
}
