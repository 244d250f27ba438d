//! The crate's one error type.

/// Errors of this crate's fallible constructors and parsers.
///
/// Failures of a model while it answers are not errors: they arrive as
/// [`TurnEvent::Failed`](crate::TurnEvent::Failed) with a
/// [`Failure`](crate::Failure), because a battle goes on (and is shown)
/// when one side fails.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DispatchError {
    /// The shared HTTP client could not be built (TLS set-up, bad settings).
    #[error("cannot build the http client: {0}")]
    HttpClient(String),
    /// A streaming mode other than `live`, `paired` or `complete`.
    #[error("unknown streaming mode {0:?}, expected live, paired or complete")]
    InvalidStreamingMode(String),
}
