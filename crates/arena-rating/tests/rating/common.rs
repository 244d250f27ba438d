//! Helpers shared by the integration tests.

use arena_core::Winner;
use arena_rating::{BtOptions, Comparisons, Leaderboard, fit_bradley_terry};

/// Winner from a small integer (proptest-friendly).
pub fn winner(k: u8) -> Winner {
    Winner::ALL[usize::from(k % 4)]
}

/// Model name from a small integer.
pub fn model(k: u8) -> String {
    format!("m{k}")
}

/// Aggregates `(a, b, winner)` rows with unit weights.
pub fn comparisons(rows: &[(u8, u8, u8)]) -> Comparisons {
    let mut c = Comparisons::new();
    for &(a, b, w) in rows {
        c.add(&model(a), &model(b), winner(w), 1.0);
    }
    c
}

/// Fits with the given options and returns the leaderboard.
pub fn board(c: &Comparisons, opts: &BtOptions) -> Leaderboard {
    fit_bradley_terry(c, opts, None).expect("valid options").1
}

/// Rating of a model on a board.
pub fn rating(lb: &Leaderboard, name: &str) -> f64 {
    lb.get(name).expect("model on board").rating
}

/// Every number on the board is finite and each interval holds its rating.
pub fn assert_sane(lb: &Leaderboard) {
    for (pos, m) in lb.models.iter().enumerate() {
        assert!(m.rating.is_finite(), "{m:?}");
        assert!(m.ci_lower.is_finite() && m.ci_upper.is_finite(), "{m:?}");
        assert!(
            m.ci_lower <= m.rating + 1e-9 && m.rating <= m.ci_upper + 1e-9,
            "{m:?}"
        );
        assert_eq!(m.rank, pos + 1);
        assert!(m.rank_ub >= 1 && m.rank_ub <= m.rank, "{m:?}");
        if let Some(w) = m.win_rate {
            assert!((0.0..=1.0).contains(&w));
        }
    }
    for w in lb.models.windows(2) {
        assert!(w[0].rating >= w[1].rating);
    }
}
