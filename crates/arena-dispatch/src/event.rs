//! What the dispatcher reports while a turn runs.

use std::fmt;

use arena_core::Side;
use serde::{Deserialize, Serialize};

/// One step of a turn, in the order the voter should see it.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnEvent {
    /// More answer text for one side.
    Delta {
        /// Which answer grows.
        side: Side,
        /// The new text (not the whole answer).
        text: String,
    },
    /// A side finished normally. Its last event.
    Done {
        /// Which side.
        side: Side,
        /// The whole answer and its timings.
        stats: SideStats,
    },
    /// A side failed. Its last event.
    Failed {
        /// Which side.
        side: Side,
        /// What went wrong.
        failure: Failure,
        /// What was generated until then.
        stats: SideStats,
    },
}

impl TurnEvent {
    /// The side this event belongs to.
    pub fn side(&self) -> Side {
        match self {
            TurnEvent::Delta { side, .. }
            | TurnEvent::Done { side, .. }
            | TurnEvent::Failed { side, .. } => *side,
        }
    }

    /// Whether this is a side's last event.
    pub fn is_terminal(&self) -> bool {
        !matches!(self, TurnEvent::Delta { .. })
    }
}

/// Facts about one side's answer, for storage and metrics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SideStats {
    /// The full text generated so far (the final answer on `Done`).
    pub answer: String,
    /// Milliseconds from the start of the side to its first text, retries
    /// included; `None` when no text came.
    pub first_token_ms: Option<u64>,
    /// Milliseconds from the start of the side to its end.
    pub total_ms: u64,
    /// Generated tokens as reported by the upstream (word count for the
    /// demo backend); `None` when the upstream did not say.
    pub output_tokens: Option<u64>,
    /// Whether the answer names this model, its maker or another
    /// well-known model (see [`mentions_identity`](crate::mentions_identity)).
    pub identity_leak: bool,
    /// Whether the answer was cut at
    /// [`DispatchConfig::max_answer_chars`](crate::DispatchConfig::max_answer_chars).
    pub truncated: bool,
}

/// Why a side failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The category, safe to show and to store.
    pub kind: FailureKind,
    /// Details for logs only: may name the upstream, never show it to a voter.
    pub detail: String,
}

impl Failure {
    /// A failure of the given kind.
    pub fn new(kind: FailureKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.detail)
    }
}

/// Categories of failure. Answers longer than the limit are not a failure:
/// they end as done and truncated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// No connection could be made (refused, DNS, TLS, connect timeout).
    ConnectFailed,
    /// The upstream answered 429 on every attempt.
    RateLimited,
    /// The upstream answered another error status, or an error object.
    UpstreamError,
    /// No first text within the first-token limit, or no end within the
    /// total limit.
    Timeout,
    /// The stream ended or broke before the answer was complete.
    StreamCut,
    /// The upstream sent something that is not a chat completion.
    MalformedResponse,
    /// The turn was stopped (server shutdown).
    Cancelled,
}

impl FailureKind {
    /// Every kind, for metrics labels and exhaustive tests.
    pub const ALL: [FailureKind; 7] = [
        FailureKind::ConnectFailed,
        FailureKind::RateLimited,
        FailureKind::UpstreamError,
        FailureKind::Timeout,
        FailureKind::StreamCut,
        FailureKind::MalformedResponse,
        FailureKind::Cancelled,
    ];

    /// A sentence for the voter. Names no model, organization or upstream.
    pub const fn voter_message(&self) -> &'static str {
        match self {
            FailureKind::ConnectFailed => {
                "This model could not be reached. Please start a new battle."
            }
            FailureKind::RateLimited => {
                "This model is receiving too many requests right now. Please try again in a moment."
            }
            FailureKind::UpstreamError => {
                "This model ran into an error while answering. Please start a new battle."
            }
            FailureKind::Timeout => {
                "This model took too long to answer. Please start a new battle."
            }
            FailureKind::StreamCut => {
                "This model's answer was interrupted before it finished. Please start a new battle."
            }
            FailureKind::MalformedResponse => {
                "This model sent a response that could not be read. Please start a new battle."
            }
            FailureKind::Cancelled => "The answer was stopped because the server is shutting down.",
        }
    }

    /// The snake_case name, for storage, metrics and logs.
    pub const fn as_str(&self) -> &'static str {
        match self {
            FailureKind::ConnectFailed => "connect_failed",
            FailureKind::RateLimited => "rate_limited",
            FailureKind::UpstreamError => "upstream_error",
            FailureKind::Timeout => "timeout",
            FailureKind::StreamCut => "stream_cut",
            FailureKind::MalformedResponse => "malformed_response",
            FailureKind::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_match_serde_and_messages_name_nobody() {
        for kind in FailureKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            let message = kind.voter_message();
            assert!(message.ends_with('.'), "{message}");
            assert!(!crate::mentions_identity(message, &[]), "{message}");
        }
    }
}
