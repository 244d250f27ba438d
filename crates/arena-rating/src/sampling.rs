//! Which pair to show next, and how to weight votes for how pairs were
//! chosen (Chiang et al. 2024, eqs. 7 and 9).

use crate::bradley_terry::BtFit;
use crate::counts::Comparisons;
use crate::hash::FastMap;

/// Inverse-propensity weights (eq. 7): `1 / P(pair)` per vote, normalized to
/// mean 1, so a fit on non-uniformly sampled pairs targets uniform sampling.
///
/// A probability that is not a positive finite number gets the weight of the
/// smallest positive probability given (the most generous weight that is
/// still bounded) — it cannot occur for a pair that was actually sampled.
pub fn inverse_propensity_weights(pair_probabilities: &[f64]) -> Vec<f64> {
    let valid = |p: f64| p.is_finite() && p > 0.0;
    let smallest = pair_probabilities
        .iter()
        .copied()
        .filter(|&p| valid(p))
        .fold(f64::INFINITY, f64::min);
    if !smallest.is_finite() {
        return vec![1.0; pair_probabilities.len()];
    }
    let raw: Vec<f64> = pair_probabilities
        .iter()
        .map(|&p| 1.0 / if valid(p) { p } else { smallest })
        .collect();
    let mean = raw.iter().sum::<f64>() / raw.len() as f64;
    raw.into_iter().map(|w| w / mean).collect()
}

/// Sampling probabilities for candidate pairs (eq. 9), mixed with a uniform
/// floor and multiplied by admin weights; the result sums to 1 (all zeros
/// when every admin weight is 0 or there are no pairs).
///
/// Pair score: `√(σ²/n) − √(σ²/(n+1))` with n the pair's votes and
/// `σ² = n · Var(θ_i − θ_j)` from the fit's covariance, i.e.
/// `√Var · (1 − √(n/(n+1)))`: the expected shrinkage of the gap's standard
/// error from one more vote. That form is finite for n = 0 too. Pairs
/// involving a model the fit does not know (new models) get the largest
/// score among the others, so they are explored first. Then
/// `P ∝ admin_weight · ((1 − ε)·score/Σscore + ε/m)`; a missing admin
/// weight counts as 1, a negative or non-finite one as 0.
pub fn active_pair_probabilities<'p>(
    fit: &BtFit,
    c: &Comparisons,
    pairs: &'p [(String, String)],
    admin_weights: &[f64],
    epsilon: f64,
) -> Vec<f64> {
    let m = pairs.len();
    if m == 0 {
        return Vec::new();
    }
    let epsilon = if epsilon.is_finite() {
        epsilon.clamp(0.0, 1.0)
    } else {
        1.0
    };
    // Each name is looked up once, not once per pair (19,900 pairs of 200
    // models at LMArena's scale): its place in the fit and in the counts.
    let fit_positions: FastMap<&str, usize> = fit
        .names
        .iter()
        .enumerate()
        .map(|(i, name)| (name.as_str(), i))
        .collect();
    let mut places: FastMap<&str, Option<(usize, Option<usize>)>> = FastMap::default();
    let mut place = |name: &'p str| {
        *places.entry(name).or_insert_with(|| {
            let in_fit = fit_positions.get(name).copied()?;
            Some((in_fit, c.model_index(name)))
        })
    };
    let scores: Vec<Option<f64>> = pairs
        .iter()
        .map(|(a, b)| {
            let ((i, counted_a), (j, counted_b)) = (place(a)?, place(b)?);
            if i == j {
                return Some(0.0);
            }
            let var = fit.gap_variance(i, j)?;
            let n = match (counted_a, counted_b) {
                (Some(a), Some(b)) => c.pair_votes_at(a, b),
                _ => 0,
            } as f64;
            let s = var.sqrt() * (1.0 - (n / (n + 1.0)).sqrt());
            s.is_finite().then_some(s)
        })
        .collect();
    let known_max = scores.iter().flatten().copied().fold(0.0, f64::max);
    let fill = if known_max > 0.0 { known_max } else { 1.0 };
    let scores: Vec<f64> = scores.into_iter().map(|s| s.unwrap_or(fill)).collect();
    let total: f64 = scores.iter().sum();
    let mixed = scores.iter().map(|s| {
        let active = if total > 0.0 {
            s / total
        } else {
            1.0 / m as f64
        };
        (1.0 - epsilon) * active + epsilon / m as f64
    });
    let weighted: Vec<f64> = mixed
        .enumerate()
        .map(|(k, p)| {
            let w = admin_weights.get(k).copied().unwrap_or(1.0);
            if w.is_finite() && w > 0.0 { p * w } else { 0.0 }
        })
        .collect();
    let sum: f64 = weighted.iter().sum();
    if sum > 0.0 {
        weighted.into_iter().map(|p| p / sum).collect()
    } else {
        vec![0.0; m]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bradley_terry::{BtOptions, fit_bradley_terry};
    use arena_core::Winner;

    #[test]
    fn propensity_weights_have_mean_one() {
        let cases: [(&[f64], &[f64]); 3] = [
            (&[0.5, 0.5], &[1.0, 1.0]),
            (&[0.1, 0.3], &[1.5, 0.5]),
            (&[0.25, 0.0], &[1.0, 1.0]),
        ];
        for (ps, want) in cases {
            let got = inverse_propensity_weights(ps);
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() < 1e-12, "{ps:?}: {got:?}");
            }
        }
        assert!(inverse_propensity_weights(&[]).is_empty());
    }

    fn pairs(xs: &[(&str, &str)]) -> Vec<(String, String)> {
        xs.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn prefers_uncertain_pairs_and_respects_the_floor_and_weights() {
        let mut c = Comparisons::new();
        for k in 0..400 {
            let w = if k % 3 == 0 {
                Winner::ModelB
            } else {
                Winner::ModelA
            };
            c.add("a", "b", w, 1.0);
        }
        for k in 0..10 {
            let w = if k % 2 == 0 {
                Winner::ModelB
            } else {
                Winner::ModelA
            };
            c.add("b", "c", w, 1.0);
            c.add("a", "c", w, 1.0);
        }
        let (fit, _) = fit_bradley_terry(&c, &BtOptions::default(), None).unwrap();
        let ps = pairs(&[("a", "b"), ("b", "c"), ("a", "c"), ("a", "new")]);
        let p = active_pair_probabilities(&fit, &c, &ps, &[], 0.05);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(p[1] > p[0] && p[2] > p[0], "{p:?}");
        assert!(p.iter().all(|&x| x >= 0.05 / 4.0 - 1e-15));
        // An admin weight of 0 disables a pair; the rest renormalize.
        let p = active_pair_probabilities(&fit, &c, &ps, &[1.0, 0.0, 2.0, 1.0], 0.05);
        assert_eq!(p[1], 0.0);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        // Pure uniform with ε = 1.
        let p = active_pair_probabilities(&fit, &c, &ps, &[], 1.0);
        assert!(p.iter().all(|&x| (x - 0.25).abs() < 1e-12));
    }
}
