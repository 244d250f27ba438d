//! Style control: contextual Bradley–Terry with the answers' style as
//! covariates, `logit P(a beats b) = θ_a − θ_b + βᵀf`.
//!
//! Features per battle (FastChat's construction): for token count, markdown
//! headers, list items and bold spans, the normalized difference
//! `(s_a − s_b)/(s_a + s_b)` (0 when both are 0), then each standardized to
//! mean 0 and standard deviation 1 over the battles used (a constant feature
//! stays 0). Loss: the mean over battles of the weighted negative
//! log-likelihood plus `½λ‖β‖²`, λ = 1, on the coefficients only, solved to
//! convergence by Newton on (θ, β) jointly. Features differ per battle, so
//! this fit works on rows, not on aggregated counts.
//!
//! Intervals: the sandwich `A⁻¹ B A⁻¹ / R` of the penalized M-estimator,
//! with A the full Hessian (including λ on β) and `B = (1/R) Σ w²(y−p)² z zᵀ −
//! λ² ββᵀ` the covariance of the per-battle score (the second term is exact:
//! at the optimum the data gradient equals −λβ). arena-rank leaves λ out of A
//! and scales the correction by 1/R; that only changes β's intervals, not the
//! ratings'.

use std::collections::HashMap;

use arena_core::Winner;
use rayon::prelude::*;

use crate::bootstrap::{mix_seed, quantile};
use crate::bradley_terry::{BtOptions, Intervals, SANDWICH_RIDGE};
use crate::counts::FitPair;
use crate::error::RatingError;
use crate::graph::connectivity;
use crate::intervals::invert_spd;
use crate::leaderboard::{Leaderboard, Method, Row, rank_rows, theta_to_rating};
use crate::linalg::Matrix;
use crate::normal::two_sided_z;
use crate::problem::{DEGENERATE_RIDGE, Objective, newton, sigmoid};
use crate::random::{FastRng, Multinomial};

/// Number of style features.
const FEATURES: usize = 4;
/// Names of the style features, in coefficient order.
const FEATURE_NAMES: [&str; FEATURES] = ["tokens", "headers", "lists", "bold"];
/// λ of the coefficient penalty ½λ‖β‖².
const COEFFICIENT_PENALTY: f64 = 1.0;

/// Style measurements of one answer.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StyleSide {
    /// Length in whitespace-separated tokens.
    pub tokens: f64,
    /// Markdown header lines.
    pub headers: f64,
    /// Markdown list items (ordered or not).
    pub lists: f64,
    /// Bold spans (`**…**` or `__…__`).
    pub bold: f64,
}

impl StyleSide {
    fn values(&self) -> [f64; FEATURES] {
        [self.tokens, self.headers, self.lists, self.bold]
    }
}

/// Measures an answer's style as FastChat does: whitespace tokens, lines
/// starting with 1–6 `#` and a space, lines starting with `-`, `*`, `+` or
/// `1.` and a space (after indentation), and bold spans within a line.
pub fn style_side_from_markdown(text: &str) -> StyleSide {
    let mut side = StyleSide {
        tokens: text.split_whitespace().count() as f64,
        ..StyleSide::default()
    };
    for line in text.lines() {
        if is_header(line) {
            side.headers += 1.0;
        }
        if is_list_item(line) {
            side.lists += 1.0;
        }
        side.bold += (bold_spans(line, b'*') + bold_spans(line, b'_')) as f64;
    }
    side
}

fn is_header(line: &str) -> bool {
    let hashes = line.bytes().take_while(|&b| b == b'#').count();
    (1..=6).contains(&hashes)
        && line[hashes..]
            .chars()
            .next()
            .is_some_and(char::is_whitespace)
}

fn is_list_item(line: &str) -> bool {
    let rest = line.trim_start();
    let after_marker = if let Some(r) = rest.strip_prefix(['-', '*', '+']) {
        r
    } else {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        match rest[digits..].strip_prefix('.') {
            Some(r) if digits > 0 => r,
            _ => return false,
        }
    };
    after_marker.chars().next().is_some_and(char::is_whitespace)
}

/// Non-overlapping matches of `MM[^M]+MM` (M the marker) in one line,
/// scanned left to right like the regex FastChat uses.
fn bold_spans(line: &str, marker: u8) -> usize {
    let b = line.as_bytes();
    let (mut i, mut found) = (0, 0);
    while i + 1 < b.len() {
        if b[i] == marker && b[i + 1] == marker {
            let body = b[i + 2..].iter().take_while(|&&c| c != marker).count();
            let close = i + 2 + body;
            if body > 0 && close + 1 < b.len() && b[close] == marker && b[close + 1] == marker {
                found += 1;
                i = close + 2;
                continue;
            }
        }
        i += 1;
    }
    found
}

/// One battle with the style of both answers.
#[derive(Debug, Clone, PartialEq)]
pub struct StyledBattle {
    /// The model on side A.
    pub model_a: String,
    /// The model on side B.
    pub model_b: String,
    /// The vote.
    pub winner: Winner,
    /// The vote's weight (1 for a plain vote).
    pub weight: f64,
    /// Style of side A's answer.
    pub a: StyleSide,
    /// Style of side B's answer.
    pub b: StyleSide,
}

/// The result of [`fit_style_controlled`].
#[derive(Debug, Clone, PartialEq)]
pub struct StyleFit {
    /// Style-controlled ratings (arena scale, mean 1000 before any anchor).
    pub leaderboard: Leaderboard,
    /// The style coefficients β: tokens, headers, lists, bold.
    pub coefficients: Vec<StyleCoefficient>,
}

/// One style coefficient, in log-odds per standard deviation of its feature.
#[derive(Debug, Clone, PartialEq)]
pub struct StyleCoefficient {
    /// Feature name: `tokens`, `headers`, `lists` or `bold`.
    pub name: String,
    /// The fitted coefficient.
    pub value: f64,
    /// Lower confidence bound.
    pub ci_lower: f64,
    /// Upper confidence bound.
    pub ci_upper: f64,
}

/// One prepared row of the contextual model.
#[derive(Debug, Clone, Copy)]
struct StyleRow {
    a: usize,
    b: usize,
    y: f64,
    w: f64,
    f: [f64; FEATURES],
}

/// The joint objective over x = (θ_1..θ_n, β_1..β_4).
struct StyleProblem<'a> {
    n: usize,
    rows: &'a [StyleRow],
    /// Per-row multiplicity (bootstrap), or `None` for 1.
    multiplicity: Option<&'a [u64]>,
    /// Ridge on θ, mean scale (0 unless degenerate).
    theta_ridge: f64,
}

impl StyleProblem<'_> {
    fn weight(&self, r: usize) -> f64 {
        let m = self.multiplicity.map_or(1.0, |m| m[r] as f64);
        self.rows[r].w * m
    }

    fn logit(&self, row: &StyleRow, x: &[f64]) -> f64 {
        let beta = &x[self.n..];
        let mut z = x[row.a] - x[row.b];
        for (f, b) in row.f.iter().zip(beta) {
            z += f * b;
        }
        z
    }

    /// Hessian of the objective (mean scale), unpinned.
    fn hessian(&self, x: &[f64]) -> Matrix {
        let n = self.n;
        let mut h = Matrix::zeros(n + FEATURES);
        let inv_r = 1.0 / self.rows.len() as f64;
        for (r, row) in self.rows.iter().enumerate() {
            let p = sigmoid(self.logit(row, x));
            let v = self.weight(r) * p * (1.0 - p) * inv_r;
            add_outer(&mut h, n, row, v);
        }
        for k in 0..n {
            h.add(k, k, 2.0 * self.theta_ridge);
        }
        for k in 0..FEATURES {
            h.add(n + k, n + k, COEFFICIENT_PENALTY);
        }
        h
    }
}

/// Adds v·z zᵀ for z = (e_a − e_b, f).
fn add_outer(m: &mut Matrix, n: usize, row: &StyleRow, v: f64) {
    if row.a != row.b {
        m.add(row.a, row.a, v);
        m.add(row.b, row.b, v);
        m.add(row.a, row.b, -v);
        m.add(row.b, row.a, -v);
    }
    for k in 0..FEATURES {
        let vf = v * row.f[k];
        if row.a != row.b {
            m.add(row.a, n + k, vf);
            m.add(n + k, row.a, vf);
            m.add(row.b, n + k, -vf);
            m.add(n + k, row.b, -vf);
        }
        for l in 0..FEATURES {
            m.add(n + k, n + l, vf * row.f[l]);
        }
    }
}

impl Objective for StyleProblem<'_> {
    fn value(&self, x: &[f64]) -> f64 {
        let inv_r = 1.0 / self.rows.len() as f64;
        let data: f64 = self
            .rows
            .iter()
            .enumerate()
            .map(|(r, row)| {
                let z = self.logit(row, x);
                self.weight(r) * (z.max(0.0) + (-z.abs()).exp().ln_1p() - row.y * z)
            })
            .sum();
        let theta = &x[..self.n];
        let beta = &x[self.n..];
        data * inv_r
            + self.theta_ridge * theta.iter().map(|t| t * t).sum::<f64>()
            + 0.5 * COEFFICIENT_PENALTY * beta.iter().map(|b| b * b).sum::<f64>()
    }

    fn gradient_into(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let n = self.n;
        for k in 0..n {
            grad[k] = 2.0 * self.theta_ridge * x[k];
        }
        for k in 0..FEATURES {
            grad[n + k] = COEFFICIENT_PENALTY * x[n + k];
        }
        let inv_r = 1.0 / self.rows.len() as f64;
        for (r, row) in self.rows.iter().enumerate() {
            let g = self.weight(r) * (sigmoid(self.logit(row, x)) - row.y) * inv_r;
            grad[row.a] += g;
            grad[row.b] -= g;
            for k in 0..FEATURES {
                grad[n + k] += g * row.f[k];
            }
        }
        grad.iter().fold(0.0, |m, g| m.max(g.abs()))
    }

    fn pinned_hessian(&self, x: &[f64]) -> Matrix {
        let mut h = self.hessian(x);
        pin_theta_gauge(&mut h, self.n);
        h
    }

    fn fix_gauge(&self, x: &mut [f64]) {
        crate::problem::center(&mut x[..self.n]);
    }

    fn gradient_scale(&self) -> f64 {
        // The loss is already a mean: the criterion is max|∇| < 1e-12.
        1.0
    }

    fn fallback_ridge(&self) -> f64 {
        DEGENERATE_RIDGE
    }
}

/// Adds c to the θ block (c·uuᵀ with u = (1,…,1,0,…,0)); returns c.
fn pin_theta_gauge(h: &mut Matrix, n: usize) -> f64 {
    let trace: f64 = (0..n).map(|i| h.get(i, i)).sum();
    let c = (trace / n as f64).max(1e-12) / n as f64;
    for i in 0..n {
        for j in 0..n {
            h.add(i, j, c);
        }
    }
    c
}

/// Fits the style-controlled (contextual) Bradley–Terry model.
///
/// Battles with an invalid weight (negative, infinite, NaN) are refused
/// with [`RatingError::InvalidWeight`]. Intervals: both sandwich kinds, or a
/// bootstrap over battles (rows resampled with replacement, each round
/// refitted from the full fit — O(battles) per round, so slower than the
/// plain BT bootstrap).
pub fn fit_style_controlled(
    battles: &[StyledBattle],
    opts: &BtOptions,
) -> Result<StyleFit, RatingError> {
    opts.validate()?;
    if let Some(bad) = battles
        .iter()
        .find(|b| !(b.weight.is_finite() && b.weight >= 0.0))
    {
        return Err(RatingError::InvalidWeight(bad.weight));
    }
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut names: Vec<String> = Vec::new();
    let mut ids = Vec::with_capacity(battles.len());
    for b in battles {
        let mut pair = [0usize; 2];
        for (slot, name) in pair.iter_mut().zip([&b.model_a, &b.model_b]) {
            *slot = *index.entry(name.as_str()).or_insert_with(|| {
                names.push(name.clone());
                names.len() - 1
            });
        }
        ids.push((pair[0], pair[1]));
    }
    let n = names.len();
    let coefficients_zero = || {
        FEATURE_NAMES
            .iter()
            .map(|name| StyleCoefficient {
                name: (*name).to_owned(),
                value: 0.0,
                ci_lower: 0.0,
                ci_upper: 0.0,
            })
            .collect()
    };
    if n == 0 {
        return Ok(StyleFit {
            leaderboard: Leaderboard {
                method: Method::StyleControlled,
                total_votes: 0,
                models: Vec::new(),
            },
            coefficients: coefficients_zero(),
        });
    }
    let anchor = match &opts.anchor {
        Some((name, rating)) => Some((
            names
                .iter()
                .position(|m| m == name)
                .ok_or_else(|| RatingError::UnknownAnchor(name.clone()))?,
            *rating,
        )),
        None => None,
    };

    let rows = build_rows(battles, &ids);
    let (votes, win_rate, conn) = tallies(n, &rows, &names);
    let theta_ridge = if conn.strongly_connected {
        0.0
    } else {
        DEGENERATE_RIDGE
    };
    let problem = StyleProblem {
        n,
        rows: &rows,
        multiplicity: None,
        theta_ridge,
    };
    let mut x = vec![0.0; n + FEATURES];
    newton(&problem, &mut x);

    let z = two_sided_z(opts.confidence);
    let (lower, upper) = match opts.intervals {
        Intervals::Sandwich => sandwich_bounds(&problem, &x, Some(SANDWICH_RIDGE), z),
        Intervals::SandwichExact => sandwich_bounds(&problem, &x, None, z),
        Intervals::Bootstrap { rounds, seed } => {
            bootstrap_bounds(&problem, &x, rounds, seed, opts.confidence)
        }
    };

    let theta = &x[..n];
    let offset = anchor.map_or(0.0, |(i, r)| r - theta_to_rating(theta[i]));
    let board_rows = (0..n)
        .map(|i| Row {
            name: names[i].clone(),
            rating: theta_to_rating(theta[i]) + offset,
            ci_lower: theta_to_rating(lower[i]) + offset,
            ci_upper: theta_to_rating(upper[i]) + offset,
            votes: votes[i],
            win_rate: win_rate[i],
            provisional: votes[i] < opts.provisional_below_votes || !conn.in_main[i],
        })
        .collect();
    let coefficients = FEATURE_NAMES
        .iter()
        .enumerate()
        .map(|(k, name)| StyleCoefficient {
            name: (*name).to_owned(),
            value: x[n + k],
            ci_lower: lower[n + k],
            ci_upper: upper[n + k],
        })
        .collect();
    Ok(StyleFit {
        leaderboard: rank_rows(Method::StyleControlled, battles.len() as u64, board_rows),
        coefficients,
    })
}

/// Normalized, standardized features per battle.
fn build_rows(battles: &[StyledBattle], ids: &[(usize, usize)]) -> Vec<StyleRow> {
    let mut rows: Vec<StyleRow> = battles
        .iter()
        .zip(ids)
        .map(|(b, &(ia, ib))| {
            let (sa, sb) = (b.a.values(), b.b.values());
            let mut f = [0.0; FEATURES];
            for k in 0..FEATURES {
                let sum = sa[k] + sb[k];
                let d = if sum != 0.0 {
                    (sa[k] - sb[k]) / sum
                } else {
                    0.0
                };
                f[k] = if d.is_finite() { d } else { 0.0 };
            }
            StyleRow {
                a: ia,
                b: ib,
                y: b.winner.score_a(),
                w: b.weight,
                f,
            }
        })
        .collect();
    let count = rows.len() as f64;
    for k in 0..FEATURES {
        let mean = rows.iter().map(|r| r.f[k]).sum::<f64>() / count;
        let var = rows.iter().map(|r| (r.f[k] - mean).powi(2)).sum::<f64>() / count;
        let sd = var.sqrt();
        for r in &mut rows {
            // A constant feature (sd ≈ 0) carries no information: leave it 0.
            r.f[k] = if sd > 1e-12 {
                (r.f[k] - mean) / sd
            } else {
                0.0
            };
        }
    }
    // Self-battles keep their features: they inform β, not θ.
    rows
}

/// Votes, win rates and the connectivity of the beats graph.
type Tallies = (Vec<u64>, Vec<Option<f64>>, crate::graph::Connectivity);

fn tallies(n: usize, rows: &[StyleRow], names: &[String]) -> Tallies {
    let mut votes = vec![0u64; n];
    let mut score = vec![0.0; n];
    let mut played = vec![0u64; n];
    let mut pairs: HashMap<(usize, usize), FitPair> = HashMap::new();
    for r in rows {
        votes[r.a] += 1;
        if r.a == r.b {
            continue;
        }
        votes[r.b] += 1;
        score[r.a] += r.y;
        score[r.b] += 1.0 - r.y;
        played[r.a] += 1;
        played[r.b] += 1;
        let (i, j, y) = if r.a < r.b {
            (r.a, r.b, r.y)
        } else {
            (r.b, r.a, 1.0 - r.y)
        };
        let p = pairs.entry((i, j)).or_insert(FitPair {
            i,
            j,
            weight: 0.0,
            score: 0.0,
        });
        p.weight += r.w;
        p.score += r.w * y;
    }
    let win_rate = (0..n)
        .map(|i| (played[i] > 0).then(|| score[i] / played[i] as f64))
        .collect();
    let pairs: Vec<FitPair> = pairs.into_values().collect();
    let conn = connectivity(n, &pairs, &votes, names);
    (votes, win_rate, conn)
}

/// Sandwich bounds for every parameter (θ then β).
fn sandwich_bounds(
    p: &StyleProblem<'_>,
    x: &[f64],
    rho: Option<f64>,
    z: f64,
) -> (Vec<f64>, Vec<f64>) {
    let n = p.n;
    let dim = n + FEATURES;
    let count = p.rows.len() as f64;
    let mut b = Matrix::zeros(dim);
    for (r, row) in p.rows.iter().enumerate() {
        let q = sigmoid(p.logit(row, x));
        let w = p.weight(r);
        add_outer(&mut b, n, row, w * w * (row.y - q).powi(2) / count);
    }
    let pen2 = COEFFICIENT_PENALTY * COEFFICIENT_PENALTY;
    for k in 0..FEATURES {
        for l in 0..FEATURES {
            b.add(n + k, n + l, -pen2 * x[n + k] * x[n + l]);
        }
    }
    // As for plain BT (intervals.rs): invert the gauge-pinned matrix and
    // remove its gauge component, i.e. P (A + ρI)⁻¹ P; B annihilates the
    // gauge direction u = (1,…,1, 0,0,0,0), so the sandwich is unchanged.
    let rho = rho.unwrap_or(0.0);
    let mut h = p.hessian(x);
    h.add_diagonal(rho);
    let c = pin_theta_gauge(&mut h, n);
    let mut a_inv = invert_spd(h, 1.0);
    let corr = 1.0 / (n as f64 * (2.0 * p.theta_ridge + rho + c * n as f64));
    for i in 0..n {
        for j in 0..n {
            a_inv.add(i, j, -corr);
        }
    }
    let var = a_inv.sandwich_diagonal(&b);
    let half: Vec<f64> = var
        .iter()
        .map(|v| {
            let v = v / count;
            if v.is_finite() {
                z * v.max(0.0).sqrt()
            } else {
                0.0
            }
        })
        .collect();
    let lower = x.iter().zip(&half).map(|(t, h)| t - h).collect();
    let upper = x.iter().zip(&half).map(|(t, h)| t + h).collect();
    (lower, upper)
}

/// Percentile bounds from refits on resampled battles.
fn bootstrap_bounds(
    p: &StyleProblem<'_>,
    x: &[f64],
    rounds: usize,
    seed: u64,
    confidence: f64,
) -> (Vec<f64>, Vec<f64>) {
    let ones = vec![1u64; p.rows.len()];
    let multinomial = Multinomial::new(&ones);
    let replicates: Vec<Vec<f64>> = (0..rounds)
        .into_par_iter()
        .map(|r| {
            let mut rng = FastRng::seed_from_u64(mix_seed(seed, r as u64));
            let mut m = vec![0u64; p.rows.len()];
            multinomial.sample(&mut rng, &mut m);
            let round = StyleProblem {
                multiplicity: Some(&m),
                // A resample may lose the connectivity of the full data;
                // the smallest ridge keeps such a round finite.
                theta_ridge: DEGENERATE_RIDGE,
                ..*p
            };
            let mut xr = x.to_vec();
            newton(&round, &mut xr);
            xr
        })
        .collect();
    let q = (1.0 - confidence) / 2.0;
    let mut column = Vec::with_capacity(rounds);
    let (mut lower, mut upper) = (Vec::new(), Vec::new());
    for k in 0..x.len() {
        column.clear();
        column.extend(replicates.iter().map(|r| r[k]));
        column.sort_by(f64::total_cmp);
        lower.push(quantile(&column, q).min(x[k]));
        upper.push(quantile(&column, 1.0 - q).max(x[k]));
    }
    (lower, upper)
}

impl Clone for StyleProblem<'_> {
    fn clone(&self) -> Self {
        *self
    }
}
impl Copy for StyleProblem<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_markdown_like_fastchat() {
        let text = "# Title\n\nSome **bold** and __also__ text.\n\n- one\n* two\n  3. three\n**x** ** y**\n#nope\n-nope\n";
        let s = style_side_from_markdown(text);
        assert_eq!(s.headers, 1.0);
        assert_eq!(s.lists, 3.0);
        assert_eq!(s.bold, 4.0);
        assert_eq!(s.tokens, text.split_whitespace().count() as f64);
        assert_eq!(style_side_from_markdown(""), StyleSide::default());
    }

    fn side(tokens: f64) -> StyleSide {
        StyleSide {
            tokens,
            ..StyleSide::default()
        }
    }

    #[test]
    fn separates_length_bias_from_quality() {
        // Three equally good models; voters prefer the longer answer, and
        // model "verbose" always writes longer answers.
        let mut battles = Vec::new();
        let models = ["verbose", "plain1", "plain2"];
        for k in 0..3000usize {
            let (i, j) = match k % 3 {
                0 => (0, 1),
                1 => (0, 2),
                _ => (1, 2),
            };
            let (la, lb) = if i == 0 {
                (300.0, 100.0)
            } else {
                (100.0 + (k % 7) as f64 * 30.0, 100.0 + (k % 5) as f64 * 40.0)
            };
            // Deterministic "votes": longer answer wins 3 times in 4.
            let longer_a = la > lb;
            let winner = if la == lb {
                Winner::Tie
            } else if (k / 3) % 4 == 0 {
                if longer_a {
                    Winner::ModelB
                } else {
                    Winner::ModelA
                }
            } else if longer_a {
                Winner::ModelA
            } else {
                Winner::ModelB
            };
            battles.push(StyledBattle {
                model_a: models[i].into(),
                model_b: models[j].into(),
                winner,
                weight: 1.0,
                a: side(la),
                b: side(lb),
            });
        }
        let fit = fit_style_controlled(&battles, &BtOptions::default()).unwrap();
        let tokens = &fit.coefficients[0];
        assert!(tokens.ci_lower > 0.0, "{tokens:?}");
        assert!(tokens.ci_lower < tokens.value && tokens.value < tokens.ci_upper);
        for other in &fit.coefficients[1..] {
            assert_eq!(other.value, 0.0, "constant features stay 0");
        }
        // The style-controlled gap is smaller than plain Bradley–Terry's.
        let mut c = crate::Comparisons::new();
        for b in &battles {
            c.add(&b.model_a, &b.model_b, b.winner, 1.0);
        }
        let (_, plain) = crate::fit_bradley_terry(&c, &BtOptions::default(), None).unwrap();
        let gap =
            |lb: &Leaderboard| lb.get("verbose").unwrap().rating - lb.get("plain1").unwrap().rating;
        assert!(gap(&plain) > 0.0);
        assert!(
            gap(&fit.leaderboard) < gap(&plain),
            "{} vs {}",
            gap(&fit.leaderboard),
            gap(&plain)
        );
        let mean = fit.leaderboard.models.iter().map(|m| m.rating).sum::<f64>() / 3.0;
        assert!((mean - 1000.0).abs() < 1e-9);
    }
}
