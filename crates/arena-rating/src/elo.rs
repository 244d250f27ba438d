//! FastChat's online Elo (`compute_elo`), kept for familiarity.
//!
//! Votes are replayed in the given (stored) order, so the result depends on
//! that order by nature. With `bootstrap`, each round replays a resample of
//! the votes drawn with replacement in random order, as FastChat's
//! `get_bootstrap_result` does (`battles.sample(frac=1.0, replace=True)`),
//! and the bounds are the 2.5 / 97.5 percentiles; the displayed rating stays
//! the replay in stored order.

use std::collections::HashMap;

use arena_core::Winner;
use rand::RngExt;
use rayon::prelude::*;

use crate::bootstrap::{mix_seed, quantile};
use crate::leaderboard::{Leaderboard, Method, Row, rank_rows};
use crate::random::FastRng;

/// Options of [`online_elo`].
#[derive(Debug, Clone, PartialEq)]
pub struct EloOptions {
    /// Step size K (default 4).
    pub k: f64,
    /// Odds base (default 10).
    pub base: f64,
    /// Points per factor `base` in odds (default 400).
    pub scale: f64,
    /// Starting rating of every model (default 1000).
    pub initial: f64,
    /// `(rounds, seed)` for bootstrap intervals; `None` gives intervals of
    /// zero width. Zero rounds behaves like `None`.
    pub bootstrap: Option<(usize, u64)>,
    /// Models with fewer votes are marked provisional (default 300).
    pub provisional_below_votes: u64,
}

impl Default for EloOptions {
    fn default() -> Self {
        EloOptions {
            k: 4.0,
            base: 10.0,
            scale: 400.0,
            initial: 1000.0,
            bootstrap: None,
            provisional_below_votes: 300,
        }
    }
}

/// One update of FastChat's `compute_elo`, kept literally (it computes
/// e_b separately rather than as 1 − e_a, and so do we, to agree to the bit).
#[inline]
fn update(ratings: &mut [f64], a: usize, b: usize, score_a: f64, opts: &EloOptions) {
    let (ra, rb) = (ratings[a], ratings[b]);
    let ea = 1.0 / (1.0 + opts.base.powf((rb - ra) / opts.scale));
    let eb = 1.0 / (1.0 + opts.base.powf((ra - rb) / opts.scale));
    ratings[a] += opts.k * (score_a - ea);
    ratings[b] += opts.k * (1.0 - score_a - eb);
}

/// FastChat's online Elo over battles in stored order.
pub fn online_elo<'a>(
    battles: impl IntoIterator<Item = (&'a str, &'a str, Winner)>,
    opts: &EloOptions,
) -> Leaderboard {
    let mut index: HashMap<&'a str, usize> = HashMap::new();
    let mut names: Vec<&'a str> = Vec::new();
    let mut rows: Vec<(usize, usize, f64)> = Vec::new();
    for (a, b, w) in battles {
        let mut intern = |name: &'a str| {
            *index.entry(name).or_insert_with(|| {
                names.push(name);
                names.len() - 1
            })
        };
        let (ia, ib) = (intern(a), intern(b));
        rows.push((ia, ib, w.score_a()));
    }
    let n = names.len();
    let mut votes = vec![0u64; n];
    let mut score = vec![0.0; n];
    let mut battles_vs_others = vec![0u64; n];
    let mut ratings = vec![opts.initial; n];
    for &(a, b, s) in &rows {
        votes[a] += 1;
        if a != b {
            votes[b] += 1;
            score[a] += s;
            score[b] += 1.0 - s;
            battles_vs_others[a] += 1;
            battles_vs_others[b] += 1;
        }
        update(&mut ratings, a, b, s, opts);
    }

    let (lower, upper) = match opts.bootstrap {
        Some((rounds, seed)) if rounds > 0 && !rows.is_empty() => {
            bootstrap_bounds(n, &rows, &ratings, rounds, seed, opts)
        }
        _ => (ratings.clone(), ratings.clone()),
    };
    let out = (0..n)
        .map(|i| Row {
            name: names[i].to_owned(),
            rating: ratings[i],
            ci_lower: lower[i],
            ci_upper: upper[i],
            votes: votes[i],
            win_rate: (battles_vs_others[i] > 0).then(|| score[i] / battles_vs_others[i] as f64),
            provisional: votes[i] < opts.provisional_below_votes,
        })
        .collect();
    rank_rows(Method::Elo, rows.len() as u64, out)
}

fn bootstrap_bounds(
    n: usize,
    rows: &[(usize, usize, f64)],
    ratings: &[f64],
    rounds: usize,
    seed: u64,
    opts: &EloOptions,
) -> (Vec<f64>, Vec<f64>) {
    // Per round: ratings, and which models occurred (an absent model has no
    // rating in that round, like a NaN FastChat's quantile skips).
    let replicates: Vec<(Vec<f64>, Vec<bool>)> = (0..rounds)
        .into_par_iter()
        .map(|r| {
            let mut rng = FastRng::seed_from_u64(mix_seed(seed, r as u64));
            let mut rt = vec![opts.initial; n];
            let mut seen = vec![false; n];
            for _ in 0..rows.len() {
                let (a, b, s) = rows[rng.random_range(0..rows.len())];
                seen[a] = true;
                seen[b] = true;
                update(&mut rt, a, b, s, opts);
            }
            (rt, seen)
        })
        .collect();
    let mut lower = Vec::with_capacity(n);
    let mut upper = Vec::with_capacity(n);
    let mut column = Vec::with_capacity(rounds);
    for i in 0..n {
        column.clear();
        column.extend(replicates.iter().filter(|(_, s)| s[i]).map(|(r, _)| r[i]));
        column.sort_by(f64::total_cmp);
        if column.is_empty() {
            lower.push(ratings[i]);
            upper.push(ratings[i]);
        } else {
            // Widened to contain the displayed rating, as for BT.
            lower.push(quantile(&column, 0.025).min(ratings[i]));
            upper.push(quantile(&column, 0.975).max(ratings[i]));
        }
    }
    (lower, upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_fastchat_updates() {
        // Hand-computed: first vote, equal ratings: e = 0.5, ±K/2.
        let lb = online_elo([("a", "b", Winner::ModelA)], &EloOptions::default());
        assert_eq!(lb.get("a").unwrap().rating, 1002.0);
        assert_eq!(lb.get("b").unwrap().rating, 998.0);
        // Second vote: b beats a; e_b = 1/(1+10^(4/400)).
        let lb = online_elo(
            [("a", "b", Winner::ModelA), ("b", "a", Winner::ModelA)],
            &EloOptions::default(),
        );
        let eb = 1.0 / (1.0 + 10f64.powf(4.0 / 400.0));
        assert!((lb.get("b").unwrap().rating - (998.0 + 4.0 * (1.0 - eb))).abs() < 1e-12);
        assert_eq!(lb.total_votes, 2);
    }

    #[test]
    fn ties_between_equals_and_self_battles_change_nothing() {
        let lb = online_elo(
            [
                ("a", "b", Winner::Tie),
                ("c", "c", Winner::ModelA),
                ("b", "a", Winner::BothBad),
            ],
            &EloOptions::default(),
        );
        for m in &lb.models {
            assert_eq!(m.rating, 1000.0, "{}", m.name);
        }
        assert_eq!(lb.get("c").unwrap().win_rate, None);
        assert_eq!(lb.get("c").unwrap().votes, 1);
    }

    #[test]
    fn bootstrap_is_reproducible_and_contains_the_rating() {
        let battles: Vec<(&str, &str, Winner)> = (0..300)
            .map(|i| match i % 5 {
                0 | 1 => ("a", "b", Winner::ModelA),
                2 => ("b", "c", Winner::ModelA),
                3 => ("c", "a", Winner::Tie),
                _ => ("a", "c", Winner::ModelB),
            })
            .collect();
        let opts = EloOptions {
            bootstrap: Some((50, 9)),
            ..EloOptions::default()
        };
        let x = online_elo(battles.iter().copied(), &opts);
        let y = online_elo(battles.iter().copied(), &opts);
        assert_eq!(x, y);
        for m in &x.models {
            assert!(m.ci_lower <= m.rating && m.rating <= m.ci_upper);
            assert!(m.ci_upper > m.ci_lower);
        }
    }

    #[test]
    fn empty_input_gives_an_empty_board() {
        let lb = online_elo(std::iter::empty(), &EloOptions::default());
        assert!(lb.models.is_empty());
        assert_eq!(lb.total_votes, 0);
    }
}
