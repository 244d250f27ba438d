//! Property tests: invariants any correct Bradley–Terry fit satisfies.

use arena_rating::{
    BtOptions, Intervals, fit_bradley_terry, predicted_win_rate_matrix, theta_to_rating,
};
use proptest::prelude::*;

use crate::common::{assert_sane, board, comparisons, model, rating};

/// Up to 5 models, up to 40 votes, any outcome, self-battles included.
fn rows() -> impl Strategy<Value = Vec<(u8, u8, u8)>> {
    prop::collection::vec((0u8..5, 0u8..5, 0u8..4), 1..40)
}

/// Like `rows`, plus a tie between consecutive models, so that the beats
/// graph is strongly connected and the exact optimum exists.
fn connected_rows() -> impl Strategy<Value = Vec<(u8, u8, u8)>> {
    rows().prop_map(|mut r| {
        let n = r.iter().map(|&(a, b, _)| a.max(b)).max().unwrap_or(0);
        for k in 0..n {
            r.push((k, k + 1, 2));
        }
        r
    })
}

/// Minimizes the mean BT loss by plain gradient descent, run long: an
/// independent, obviously-correct optimizer for small inputs.
fn brute_force(rows: &[(u8, u8, u8)], n: usize) -> Vec<f64> {
    let mut theta = vec![0.0f64; n];
    let count = rows.len() as f64;
    let step = 1.0; // mean loss: gradient Lipschitz constant ≤ 0.5
    for _ in 0..200_000 {
        let mut g = vec![0.0; n];
        for &(a, b, w) in rows {
            let y = crate::common::winner(w).score_a();
            let (a, b) = (usize::from(a), usize::from(b));
            let p = 1.0 / (1.0 + (theta[b] - theta[a]).exp());
            g[a] += (p - y) / count;
            g[b] -= (p - y) / count;
        }
        let gmax = g.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        theta.iter_mut().zip(&g).for_each(|(t, gi)| *t -= step * gi);
        if gmax < 1e-13 {
            break;
        }
    }
    let mean = theta.iter().sum::<f64>() / n as f64;
    theta.iter().map(|t| t - mean).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn swapping_sides_mirrors_the_outcome(rows in rows()) {
        let swapped: Vec<(u8, u8, u8)> = rows
            .iter()
            .map(|&(a, b, w)| {
                let sw = crate::common::winner(w).swapped();
                let k = arena_core::Winner::ALL.iter().position(|&x| x == sw).unwrap() as u8;
                (b, a, k)
            })
            .collect();
        let x = board(&comparisons(&rows), &BtOptions::default());
        let y = board(&comparisons(&swapped), &BtOptions::default());
        for m in &x.models {
            let other = y.get(&m.name).unwrap();
            prop_assert!((m.rating - other.rating).abs() < 1e-6, "{} vs {}", m.rating, other.rating);
            prop_assert!((m.ci_upper - other.ci_upper).abs() < 1e-6);
            prop_assert_eq!(m.win_rate, other.win_rate);
        }
    }

    #[test]
    fn row_order_does_not_change_the_fit(rows in rows(), rotate in 0usize..40) {
        let mut shuffled = rows.clone();
        shuffled.reverse();
        let k = rotate % shuffled.len();
        shuffled.rotate_left(k);
        let (fit, x) = fit_bradley_terry(&comparisons(&rows), &BtOptions::default(), None).unwrap();
        let y = board(&comparisons(&shuffled), &BtOptions::default());
        prop_assert_eq!(x.models.len(), y.models.len());
        // With the degenerate-data ridge θ is pinned only to ~5e-7.
        let tolerance = if fit.ridge() > 0.0 { 1e-3 } else { 1e-6 };
        for m in &x.models {
            let other = y.get(&m.name).unwrap();
            prop_assert!((m.rating - other.rating).abs() < tolerance, "{} vs {}", m.rating, other.rating);
            prop_assert!((m.ci_lower - other.ci_lower).abs() < tolerance, "{} vs {}", m.ci_lower, other.ci_lower);
            prop_assert_eq!(m.provisional, other.provisional);
        }
    }

    #[test]
    fn every_interval_contains_its_estimate(rows in rows(), seed in 0u64..1000) {
        let c = comparisons(&rows);
        for intervals in [
            Intervals::Sandwich,
            Intervals::SandwichExact,
            Intervals::Bootstrap { rounds: 20, seed },
        ] {
            let opts = BtOptions { intervals, ..BtOptions::default() };
            assert_sane(&board(&c, &opts));
        }
    }

    #[test]
    fn a_common_shift_changes_no_probability(rows in connected_rows(), shift in -500.0f64..500.0) {
        let c = comparisons(&rows);
        let (fit, plain) = fit_bradley_terry(&c, &BtOptions::default(), None).unwrap();
        let anchor_model = plain.models[0].name.clone();
        let anchored = BtOptions {
            anchor: Some((anchor_model.clone(), rating(&plain, &anchor_model) + shift)),
            ..BtOptions::default()
        };
        let (fit2, shifted) = fit_bradley_terry(&c, &anchored, Some(&fit)).unwrap();
        for m in &plain.models {
            prop_assert!((rating(&shifted, &m.name) - m.rating - shift).abs() < 1e-6);
        }
        let order: Vec<String> = c.model_names().to_vec();
        let p1 = predicted_win_rate_matrix(&fit, &c, &order);
        let p2 = predicted_win_rate_matrix(&fit2, &c, &order);
        for (r1, r2) in p1.values.iter().zip(&p2.values) {
            for (a, b) in r1.iter().zip(r2) {
                match (a, b) {
                    (Some(a), Some(b)) => prop_assert!((a - b).abs() < 1e-9),
                    (None, None) => {}
                    _ => prop_assert!(false, "cells differ"),
                }
            }
        }
    }

    #[test]
    fn agrees_with_a_brute_force_optimizer(rows in connected_rows()) {
        let c = comparisons(&rows);
        let (fit, lb) = fit_bradley_terry(&c, &BtOptions::default(), None).unwrap();
        prop_assert_eq!(fit.ridge(), 0.0);
        prop_assert!(fit.relative_gradient() < 1e-12);
        // Model k is at position k in brute_force's output; fit order is
        // first appearance.
        let n = usize::from(rows.iter().map(|&(a, b, _)| a.max(b)).max().unwrap()) + 1;
        let brute = brute_force(&rows, n);
        for (k, &t) in brute.iter().enumerate() {
            let name = model(k as u8);
            if let Some(m) = lb.get(&name) {
                // brute force centers over all n names; every k ≤ n − 1
                // occurs in connected_rows, so the gauges coincide.
                prop_assert!((m.rating - theta_to_rating(t)).abs() < 1e-5,
                    "{}: {} vs {}", name, m.rating, theta_to_rating(t));
            }
        }
    }

    #[test]
    fn a_warm_start_finds_the_same_optimum(rows in rows(), extra in (0u8..5, 0u8..5, 0u8..4)) {
        let c = comparisons(&rows);
        let (fit, _) = fit_bradley_terry(&c, &BtOptions::default(), None).unwrap();
        let mut more = rows.clone();
        more.push(extra);
        let c2 = comparisons(&more);
        let (cold_fit, cold) = fit_bradley_terry(&c2, &BtOptions::default(), None).unwrap();
        let (_, warm) = fit_bradley_terry(&c2, &BtOptions::default(), Some(&fit)).unwrap();
        // With the degenerate-data ridge (curvature 2e-6·N) the gradient
        // tolerance 1e-12·N pins θ only to ~5e-7 (1e-4 rating points).
        let tolerance = if cold_fit.ridge() > 0.0 { 1e-3 } else { 1e-6 };
        for m in &cold.models {
            let diff = (rating(&warm, &m.name) - m.rating).abs();
            prop_assert!(diff < tolerance, "{}: {} vs {}", m.name, rating(&warm, &m.name), m.rating);
        }
    }
}
