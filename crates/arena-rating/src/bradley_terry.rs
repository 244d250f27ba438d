//! The Bradley–Terry leaderboard: options, the fitted model, and the entry
//! point [`fit_bradley_terry`].

use crate::bootstrap::bootstrap_intervals;
use crate::counts::{Comparisons, PairTable};
use crate::error::RatingError;
use crate::graph::connectivity;
use crate::intervals::{Covariance, SandwichKind, sandwich};
use crate::leaderboard::{Leaderboard, Method, Row, rank_rows, theta_to_rating};
use crate::normal::two_sided_z;
use crate::problem::{DEGENERATE_RIDGE, Problem, sigmoid};

/// The ridge ρ of the default sandwich, relative to N for unweighted votes
/// (arena-rank's `hessian_reg`).
pub(crate) const SANDWICH_RIDGE: f64 = 1e-5;

/// How confidence intervals are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Intervals {
    /// Sandwich estimator with arena-rank's ridge on H (matches LMArena).
    #[default]
    Sandwich,
    /// Sandwich estimator with the exact inverse on the sum-zero subspace:
    /// honest, wider intervals for rarely-voted models.
    SandwichExact,
    /// Percentile bootstrap: `rounds` multinomial resamples of the votes,
    /// reproducible from `seed`.
    Bootstrap {
        /// Number of resamples (the methodology's default is 100).
        rounds: usize,
        /// Seed of the random generator.
        seed: u64,
    },
}

/// Options of [`fit_bradley_terry`].
#[derive(Debug, Clone, PartialEq)]
pub struct BtOptions {
    /// How confidence intervals are computed.
    pub intervals: Intervals,
    /// Shift all ratings so that this model has this rating.
    pub anchor: Option<(String, f64)>,
    /// Models with fewer votes are marked provisional (default 300).
    pub provisional_below_votes: u64,
    /// Confidence level of the intervals (default 0.95).
    pub confidence: f64,
}

impl Default for BtOptions {
    fn default() -> Self {
        BtOptions {
            intervals: Intervals::Sandwich,
            anchor: None,
            provisional_below_votes: 300,
            confidence: 0.95,
        }
    }
}

impl BtOptions {
    pub(crate) fn validate(&self) -> Result<(), RatingError> {
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return Err(RatingError::InvalidConfidence(self.confidence));
        }
        if let Some((_, r)) = &self.anchor
            && !r.is_finite()
        {
            return Err(RatingError::InvalidAnchorRating(*r));
        }
        if let Intervals::Bootstrap { rounds: 0, .. } = self.intervals {
            return Err(RatingError::NoBootstrapRounds);
        }
        Ok(())
    }
}

/// A fitted Bradley–Terry model: θ per model (log-strengths, Σθ = 0) in the
/// order of [`Comparisons::model_names`], plus what is needed to reuse it as
/// a warm start or for active sampling.
#[derive(Debug, Clone)]
pub struct BtFit {
    pub(crate) names: Vec<String>,
    pub(crate) theta: Vec<f64>,
    pub(crate) offset: f64,
    pub(crate) ridge: f64,
    pub(crate) iterations: usize,
    pub(crate) relative_gradient: f64,
    pub(crate) covariance: Option<Covariance>,
}

impl BtFit {
    fn empty() -> Self {
        BtFit {
            names: Vec::new(),
            theta: Vec::new(),
            offset: 0.0,
            ridge: 0.0,
            iterations: 0,
            relative_gradient: 0.0,
            covariance: None,
        }
    }

    /// Model names, in the order of the fitted [`Comparisons`].
    pub fn model_names(&self) -> &[String] {
        &self.names
    }

    /// θ per model (natural-log odds units, Σθ = 0), same order.
    pub fn theta(&self) -> &[f64] {
        &self.theta
    }

    /// θ of one model.
    pub fn theta_of(&self, model: &str) -> Option<f64> {
        let i = self.names.iter().position(|n| n == model)?;
        Some(self.theta[i])
    }

    /// A model's displayed rating (arena scale, anchor applied).
    pub fn rating(&self, model: &str) -> Option<f64> {
        self.theta_of(model)
            .map(|t| theta_to_rating(t) + self.offset)
    }

    /// The fitted probability that `model_a` beats `model_b`.
    pub fn win_probability(&self, model_a: &str, model_b: &str) -> Option<f64> {
        Some(sigmoid(self.theta_of(model_a)? - self.theta_of(model_b)?))
    }

    /// The ridge λ that was needed (0 for well-posed data).
    pub fn ridge(&self) -> f64 {
        self.ridge
    }

    /// Newton iterations used.
    pub fn iterations(&self) -> usize {
        self.iterations
    }

    /// max|∇L| / N at the returned θ (below 1e-12 when converged).
    pub fn relative_gradient(&self) -> f64 {
        self.relative_gradient
    }

    /// The covariance of θ_i − θ_j for two model indices, when intervals
    /// were computed.
    pub(crate) fn gap_variance(&self, i: usize, j: usize) -> Option<f64> {
        self.covariance.as_ref().map(|c| c.gap_variance(i, j))
    }
}

/// Fits Bradley–Terry to the aggregated comparisons and builds the
/// leaderboard (see the crate documentation for the mathematics).
///
/// `warm_start`, typically the previous fit, only changes how fast the
/// optimum is found, never which optimum. Degenerate data never fail: the
/// smallest ridge is added and the affected models are marked provisional.
pub fn fit_bradley_terry(
    c: &Comparisons,
    opts: &BtOptions,
    warm_start: Option<&BtFit>,
) -> Result<(BtFit, Leaderboard), RatingError> {
    opts.validate()?;
    let table = c.pair_table();
    let n = table.n;
    if n == 0 {
        let lb = Leaderboard {
            method: Method::BradleyTerry,
            total_votes: c.total_votes(),
            models: Vec::new(),
        };
        return Ok((BtFit::empty(), lb));
    }
    let anchor = match &opts.anchor {
        Some((name, rating)) => Some((
            c.model_index(name)
                .ok_or_else(|| RatingError::UnknownAnchor(name.clone()))?,
            *rating,
        )),
        None => None,
    };
    let names = c.model_names().to_vec();
    let pairs = table.fit_pairs();
    let votes: Vec<u64> = (0..n).map(|i| c.votes_at(i)).collect();
    let conn = connectivity(n, &pairs, &votes, &names);
    let scale = if table.total_weight > 0.0 {
        table.total_weight
    } else {
        1.0
    };
    let ridge = if conn.strongly_connected {
        0.0
    } else {
        DEGENERATE_RIDGE * scale
    };
    let problem = Problem {
        n,
        pairs: &pairs,
        ridge,
        scale,
    };
    let mut theta = initial_theta(&names, warm_start);
    let outcome = problem.newton(&mut theta);

    let z = two_sided_z(opts.confidence);
    let (covariance, lower, upper) = match opts.intervals {
        Intervals::Sandwich | Intervals::SandwichExact => {
            let kind = if opts.intervals == Intervals::Sandwich {
                SandwichKind::Ridged(sandwich_ridge(&table))
            } else {
                SandwichKind::Exact
            };
            let (cov, var) = sandwich(&problem, &table, &theta, kind);
            let half: Vec<f64> = var.iter().map(|v| z * v.sqrt()).collect();
            let lower = theta.iter().zip(&half).map(|(t, h)| t - h).collect();
            let upper = theta.iter().zip(&half).map(|(t, h)| t + h).collect();
            (cov, lower, upper)
        }
        Intervals::Bootstrap { rounds, seed } => {
            let b = bootstrap_intervals(&problem, &table, &theta, rounds, seed, opts.confidence);
            (Covariance::Dense(b.covariance), b.lower, b.upper)
        }
    };

    let offset = anchor.map_or(0.0, |(i, r)| r - theta_to_rating(theta[i]));
    let rows = (0..n)
        .map(|i| Row {
            name: names[i].clone(),
            rating: theta_to_rating(theta[i]) + offset,
            ci_lower: theta_to_rating(lower[i]) + offset,
            ci_upper: theta_to_rating(upper[i]) + offset,
            votes: votes[i],
            win_rate: c.win_rate_at(i),
            provisional: votes[i] < opts.provisional_below_votes || !conn.in_main[i],
        })
        .collect();
    let lb = rank_rows(Method::BradleyTerry, c.total_votes(), rows);
    let fit = BtFit {
        names,
        theta,
        offset,
        ridge,
        iterations: outcome.iterations,
        relative_gradient: outcome.relative_gradient,
        covariance: Some(covariance),
    };
    Ok((fit, lb))
}

/// ρ of the default sandwich: 1e-5·N for unit weights, 1e-5 otherwise
/// (arena-rank's rule; N counts every vote, self-battles included).
pub(crate) fn sandwich_ridge(table: &PairTable) -> f64 {
    if table.unit_weights {
        SANDWICH_RIDGE * table.total_votes as f64
    } else {
        SANDWICH_RIDGE
    }
}

/// θ from a previous fit, matched by name; models new since then start at 0.
fn initial_theta(names: &[String], warm_start: Option<&BtFit>) -> Vec<f64> {
    let Some(prev) = warm_start else {
        return vec![0.0; names.len()];
    };
    if prev.names.as_slice() == names {
        return prev.theta.clone();
    }
    names
        .iter()
        .map(|n| prev.theta_of(n).unwrap_or(0.0))
        .collect()
}
