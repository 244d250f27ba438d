//! The one error type of the crate.

/// Why a rating could not be computed.
///
/// Degenerate *data* is never an error (the fit adds a tiny ridge and marks
/// the affected models provisional instead); only nonsensical *options* are.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RatingError {
    /// The confidence level is not strictly between 0 and 1.
    #[error("confidence must lie strictly between 0 and 1, got {0}")]
    InvalidConfidence(f64),
    /// A vote weight is negative, infinite or NaN.
    #[error("invalid weight {0}: a weight must be finite and not negative")]
    InvalidWeight(f64),
    /// The anchor names a model that does not occur in the data.
    #[error("anchor model {0:?} does not occur in the data")]
    UnknownAnchor(String),
    /// The anchor rating is infinite or NaN.
    #[error("anchor rating must be finite, got {0}")]
    InvalidAnchorRating(f64),
    /// A bootstrap was requested with zero rounds.
    #[error("a bootstrap needs at least one round")]
    NoBootstrapRounds,
}
