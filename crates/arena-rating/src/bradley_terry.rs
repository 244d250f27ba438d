//! The Bradley–Terry leaderboard: options, the fitted model, and the entry
//! point [`fit_bradley_terry`].

use std::sync::Arc;

use crate::bootstrap::bootstrap_intervals;
use crate::counts::{Comparisons, PairTable};
use crate::error::RatingError;
use crate::graph::connectivity;
use crate::intervals::{Covariance, SandwichKind, sandwich};
use crate::leaderboard::{Leaderboard, Method, Row, rank_rows, theta_to_rating};
use crate::linalg::Cholesky;
use crate::normal::two_sided_z;
use crate::problem::{DEGENERATE_RIDGE, NewtonOutcome, Problem, sigmoid};

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
    /// The factored pinned Hessian of the last Newton step: the next fit
    /// of (nearly) the same votes starts with chord steps on it.
    pub(crate) newton_factor: Option<Arc<Cholesky>>,
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
            newton_factor: None,
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
    let (theta, outcome, newton_factor) = solve(&problem, &names, warm_start);

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
        newton_factor,
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

/// The optimum θ: from a warm start with the same models, first by chord
/// steps on the previous fit's factored Hessian (after a few new votes the
/// Hessian has hardly moved, and a step costs a gradient and two triangular
/// solves instead of a factorization); otherwise, or when those do not
/// converge fast, by Newton's method.
fn solve(
    problem: &Problem<'_>,
    names: &[String],
    warm_start: Option<&BtFit>,
) -> (Vec<f64>, NewtonOutcome, Option<Arc<Cholesky>>) {
    let mut theta = initial_theta(names, warm_start);
    let previous_factor = warm_start
        .filter(|prev| prev.names.as_slice() == names)
        .and_then(|prev| prev.newton_factor.clone());
    if let Some(factor) = &previous_factor {
        if let Some(outcome) = problem.chord(factor, &mut theta) {
            return (theta, outcome, previous_factor);
        }
        theta = initial_theta(names, warm_start);
    }
    let (outcome, factor) = problem.newton_keeping_factor(&mut theta);
    (theta, outcome, factor.map(Arc::new).or(previous_factor))
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

#[cfg(test)]
mod tests {
    use arena_core::Winner;

    use super::*;

    /// Seeded votes among `models` models (a fixed LCG; side A wins more
    /// often the lower its number, a tenth are ties).
    fn votes(models: usize, count: usize, seed: u64) -> Comparisons {
        let mut state = seed;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as usize
        };
        let mut c = Comparisons::new();
        for _ in 0..count {
            let a = next() % models;
            let b = (a + 1 + next() % (models - 1)) % models;
            let winner = match next() % 10 {
                0 => Winner::Tie,
                k if k < 5 + 4 * usize::from(a < b) => Winner::ModelA,
                _ => Winner::ModelB,
            };
            c.add(&format!("m{a:02}"), &format!("m{b:02}"), winner, 1.0);
        }
        c
    }

    fn assert_same_board(got: &Leaderboard, want: &Leaderboard) {
        for m in &want.models {
            let g = got.get(&m.name).expect("same models");
            for (x, y) in [
                (g.rating, m.rating),
                (g.ci_lower, m.ci_lower),
                (g.ci_upper, m.ci_upper),
            ] {
                assert!((x - y).abs() < 1e-6, "{}: {g:?} vs {m:?}", m.name);
            }
        }
    }

    #[test]
    fn a_refit_after_one_vote_takes_chord_steps_to_the_cold_optimum() {
        let opts = BtOptions::default();
        let mut c = votes(30, 20_000, 1);
        let (fit, _) = fit_bradley_terry(&c, &opts, None).unwrap();
        assert!(fit.newton_factor.is_some());
        c.add("m03", "m17", Winner::ModelB, 1.0);
        let (cold_fit, cold) = fit_bradley_terry(&c, &opts, None).unwrap();
        let (warm_fit, warm) = fit_bradley_terry(&c, &opts, Some(&fit)).unwrap();
        let reused = warm_fit.newton_factor.as_ref().unwrap();
        assert!(Arc::ptr_eq(reused, fit.newton_factor.as_ref().unwrap()));
        assert!(warm_fit.iterations() < cold_fit.iterations() + 3);
        assert!(warm_fit.relative_gradient() < 1e-12);
        assert_same_board(&warm, &cold);
    }

    #[test]
    fn a_factor_of_other_votes_falls_back_to_newton() {
        let opts = BtOptions::default();
        // Same models, opposite strengths: the old Hessian is far off.
        let (fit, _) = fit_bradley_terry(&votes(12, 5_000, 2), &opts, None).unwrap();
        let mut reversed = Comparisons::new();
        for a in 0..12 {
            for b in 0..12 {
                if a != b {
                    let w = if a > b {
                        Winner::ModelA
                    } else {
                        Winner::ModelB
                    };
                    for _ in 0..(3 + 40 * usize::from(a > b)) {
                        reversed.add(&format!("m{a:02}"), &format!("m{b:02}"), w, 1.0);
                    }
                    reversed.add(&format!("m{a:02}"), &format!("m{b:02}"), Winner::Tie, 1.0);
                }
            }
        }
        let (_, cold) = fit_bradley_terry(&reversed, &opts, None).unwrap();
        let (warm_fit, warm) = fit_bradley_terry(&reversed, &opts, Some(&fit)).unwrap();
        let fresh = warm_fit.newton_factor.as_ref().unwrap();
        assert!(!Arc::ptr_eq(fresh, fit.newton_factor.as_ref().unwrap()));
        assert!(warm_fit.relative_gradient() < 1e-12);
        assert_same_board(&warm, &cold);
    }
}
