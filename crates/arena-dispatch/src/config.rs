//! Dispatcher settings.

use std::{fmt, str::FromStr, time::Duration};

use serde::{Deserialize, Serialize};

use crate::DispatchError;

/// Timeouts, limits and presentation of a [`Dispatcher`](crate::Dispatcher).
#[derive(Debug, Clone, PartialEq)]
pub struct DispatchConfig {
    /// Limit on establishing a TCP (and TLS) connection to a backend.
    pub connect_timeout: Duration,
    /// Limit from the start of a side, retries included, to its first
    /// piece of answer text.
    pub first_token_timeout: Duration,
    /// Limit on a whole side, from start to its last token.
    pub total_timeout: Duration,
    /// Answers are cut at this many characters and end as done, with
    /// [`SideStats::truncated`](crate::SideStats::truncated) set.
    pub max_answer_chars: usize,
    /// Further attempts after a connection failure, a 429 or a 5xx, made
    /// only before any answer text arrived.
    pub max_retries: u32,
    /// Wait before the first retry; doubled for each further one.
    pub retry_backoff: Duration,
    /// How the two answers are revealed to the voter.
    pub streaming_mode: StreamingMode,
    /// Delay per word of the built-in demo backend.
    pub demo_pace: Duration,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            first_token_timeout: Duration::from_secs(60),
            total_timeout: Duration::from_secs(300),
            max_answer_chars: 32_000,
            max_retries: 2,
            retry_backoff: Duration::from_millis(500),
            streaming_mode: StreamingMode::Live,
            demo_pace: Duration::from_millis(30),
        }
    }
}

/// How the two answers of a turn are revealed.
///
/// Whatever the mode, each side's deltas concatenate to its full answer and
/// each side ends with exactly one `Done` or `Failed`; only the timing and
/// the interleaving differ.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamingMode {
    /// Each side's text is forwarded as it arrives. Fastest, but the voter
    /// sees which model is quicker.
    #[default]
    Live,
    /// Both sides are revealed together, the same number of characters per
    /// tick on each side, so neither side's speed shows. A side that has
    /// finished keeps revealing its buffer at the pace of the other.
    Paired,
    /// Nothing is shown until both sides have finished; then each side's
    /// whole answer arrives as one delta.
    Complete,
}

impl StreamingMode {
    /// `"live"`, `"paired"` or `"complete"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            StreamingMode::Live => "live",
            StreamingMode::Paired => "paired",
            StreamingMode::Complete => "complete",
        }
    }
}

impl fmt::Display for StreamingMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StreamingMode {
    type Err = DispatchError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "live" => Ok(StreamingMode::Live),
            "paired" => Ok(StreamingMode::Paired),
            "complete" => Ok(StreamingMode::Complete),
            _ => Err(DispatchError::InvalidStreamingMode(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_mode_round_trips_through_text() {
        for mode in [
            StreamingMode::Live,
            StreamingMode::Paired,
            StreamingMode::Complete,
        ] {
            assert_eq!(mode.as_str().parse::<StreamingMode>().unwrap(), mode);
        }
        assert_eq!(
            " Paired ".parse::<StreamingMode>().unwrap(),
            StreamingMode::Paired
        );
        assert!("fast".parse::<StreamingMode>().is_err());
    }
}
