//! Model-by-model matrices for display: battles, observed and predicted win
//! rates.

use crate::bradley_terry::BtFit;
use crate::counts::Comparisons;
use crate::problem::sigmoid;

/// A square table, row model against column model.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    /// Row and column labels, in the requested order.
    pub models: Vec<String>,
    /// `values[row][column]`; `None` where there is nothing to show.
    pub values: Vec<Vec<Option<f64>>>,
}

fn build(order: &[String], mut f: impl FnMut(&str, &str) -> Option<f64>) -> Matrix {
    Matrix {
        models: order.to_vec(),
        values: order
            .iter()
            .map(|r| order.iter().map(|c| f(r, c)).collect())
            .collect(),
    }
}

/// Number of votes between the row and column models, either seating (the
/// diagonal counts self-battles; unknown models have 0).
pub fn battle_count_matrix(c: &Comparisons, order: &[String]) -> Matrix {
    build(order, |r, col| Some(c.pair_votes(r, col) as f64))
}

/// The row model's wins over the column model plus half the ties, divided
/// by their battles; `None` on the diagonal and for pairs that never met.
pub fn win_rate_matrix(c: &Comparisons, order: &[String]) -> Matrix {
    build(order, |r, col| {
        let (i, j) = (c.model_index(r)?, c.model_index(col)?);
        if i == j {
            return None;
        }
        let (mut score, mut battles) = (0.0, 0u64);
        if let Some(cell) = c.cell(i, j) {
            score += cell.count[0] as f64 + 0.5 * cell.count[1] as f64;
            battles += cell.votes();
        }
        if let Some(cell) = c.cell(j, i) {
            score += cell.count[2] as f64 + 0.5 * cell.count[1] as f64;
            battles += cell.votes();
        }
        (battles > 0).then(|| score / battles as f64)
    })
}

/// σ(θ_row − θ_col) from a Bradley–Terry fit; `None` on the diagonal and
/// for models the fit does not know. `c` is accepted for symmetry with the
/// other matrices (and so that a caller passes the data the fit came from).
pub fn predicted_win_rate_matrix(fit: &BtFit, c: &Comparisons, order: &[String]) -> Matrix {
    let _ = c;
    build(order, |r, col| {
        if r == col {
            return None;
        }
        Some(sigmoid(fit.theta_of(r)? - fit.theta_of(col)?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bradley_terry::{BtOptions, fit_bradley_terry};
    use arena_core::Winner;

    fn names(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn counts_and_rates_follow_the_row_model() {
        let mut c = Comparisons::new();
        c.add("a", "b", Winner::ModelA, 1.0);
        c.add("b", "a", Winner::ModelB, 1.0);
        c.add("b", "a", Winner::Tie, 1.0);
        c.add("a", "a", Winner::Tie, 1.0);
        let order = names(&["b", "a", "ghost"]);
        let battles = battle_count_matrix(&c, &order);
        assert_eq!(
            battles.values,
            vec![
                vec![Some(0.0), Some(3.0), Some(0.0)],
                vec![Some(3.0), Some(1.0), Some(0.0)],
                vec![Some(0.0), Some(0.0), Some(0.0)],
            ]
        );
        let rates = win_rate_matrix(&c, &order);
        assert_eq!(rates.values[1][0], Some(2.5 / 3.0));
        assert_eq!(rates.values[0][1], Some(0.5 / 3.0));
        assert_eq!(rates.values[0][0], None);
        assert_eq!(rates.values[0][2], None);
    }

    #[test]
    fn predicted_rates_are_complementary() {
        let mut c = Comparisons::new();
        for w in [Winner::ModelA, Winner::ModelA, Winner::ModelB, Winner::Tie] {
            c.add("a", "b", w, 1.0);
        }
        let (fit, _) = fit_bradley_terry(&c, &BtOptions::default(), None).unwrap();
        let m = predicted_win_rate_matrix(&fit, &c, &names(&["a", "b"]));
        let (ab, ba) = (m.values[0][1].unwrap(), m.values[1][0].unwrap());
        assert!((ab + ba - 1.0).abs() < 1e-12);
        assert!((ab - 2.5 / 4.0).abs() < 1e-9);
    }
}
