//! Ratings from pairwise human judgments: the mathematics of the arena.
//!
//! This crate is **pure**: no I/O, no async, no database, no printing. It
//! turns votes into leaderboards and knows nothing of HTTP or storage; the
//! server and the CLI feed it votes and render what it returns.
//!
//! # What is computed
//!
//! - [`Comparisons`] folds votes into counts per (ordered pair, outcome),
//!   once, in O(votes); everything else costs O(model pairs).
//! - [`fit_bradley_terry`]: the Bradley–Terry maximum-likelihood ratings,
//!   `P(a beats b) = σ(θ_a − θ_b)`, solved *to convergence* by Newton's
//!   method with a backtracking line search (max|∇L|/N < 1e-12, gauge
//!   Σθ = 0), shown as `R = 1000 + θ·400/ln 10`. Confidence intervals by the
//!   sandwich estimator ([`Intervals::Sandwich`], arena-rank's ridged
//!   convention; [`Intervals::SandwichExact`], the unridged inverse on the
//!   sum-zero subspace) or a multinomial bootstrap ([`Intervals::Bootstrap`]).
//!   A refit warm-started from the previous [`BtFit`] of the same models
//!   (the live leaderboard after a vote) first takes chord steps on that
//!   fit's factored Hessian, which barely moves with one vote; the
//!   optimum and its tolerance are the same either way.
//! - [`online_elo`]: FastChat's `compute_elo`, order-dependent, for
//!   familiarity.
//! - [`fit_style_controlled`]: contextual Bradley–Terry with the answers'
//!   length and markdown as covariates ("style control").
//! - Matrices ([`battle_count_matrix`], [`win_rate_matrix`],
//!   [`predicted_win_rate_matrix`]), pair sampling
//!   ([`inverse_propensity_weights`], [`active_pair_probabilities`]) and the
//!   anomalous-voter test ([`AnomalyDetector`]).
//!
//! # Degenerate data
//!
//! When the optimum does not exist (a model that only won or only lost, a
//! comparison graph in several pieces, one vote, only self-battles) the fit
//! adds the smallest ridge `λΣθ²`, λ = 1e-6·N, which makes it unique, and
//! marks every model outside the largest strongly connected part of the
//! "beats" graph provisional. Results are always finite: never NaN, never
//! infinite, never a panic. Empty input gives an empty leaderboard.
//!
//! # Linear algebra
//!
//! A small Cholesky solver of our own (the private `linalg` module): the systems have
//! one unknown per model (a few hundred), where a dense factorization takes
//! milliseconds, and a linear-algebra dependency would dwarf the crate.
//! Its inner products are written so that the compiler vectorizes them
//! (exact chunks, independent accumulators); the inverse and the sandwich's
//! diagonal use symmetry (half the multiply-adds) and both cores.

mod anomaly;
mod bootstrap;
mod bradley_terry;
mod counts;
mod elo;
mod error;
mod graph;
mod hash;
mod intervals;
mod leaderboard;
mod linalg;
mod matrices;
mod normal;
mod problem;
mod random;
mod sampling;
mod style;

pub use anomaly::AnomalyDetector;
pub use bradley_terry::{BtFit, BtOptions, Intervals, fit_bradley_terry};
pub use counts::{Comparisons, ModelId};
pub use elo::{EloOptions, online_elo};
pub use error::RatingError;
pub use leaderboard::{
    BASE_RATING, Leaderboard, Method, POINTS_PER_LOGIT, RatedModel, theta_to_rating,
};
pub use matrices::{Matrix, battle_count_matrix, predicted_win_rate_matrix, win_rate_matrix};
pub use sampling::{active_pair_probabilities, inverse_propensity_weights};
pub use style::{
    StyleCoefficient, StyleFit, StyleSide, StyledBattle, fit_style_controlled,
    style_side_from_markdown,
};
