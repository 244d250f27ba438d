//! Sandwich (robust) covariance of the Bradley–Terry estimate.
//!
//! `V = H⁻¹ G H⁻¹` with `H = Σ w p(1−p) x xᵀ` (the Hessian) and
//! `G = Σ w² (y − p)² x xᵀ` (the outer product of per-vote gradients),
//! `x = e_a − e_b`. H is singular along the all-ones direction (the gauge),
//! so it must be made invertible somehow:
//!
//! - [`SandwichKind::Ridged`] (default, arena-rank's convention): `H + ρ·I`,
//!   ρ = 1e-5·N for unweighted votes, 1e-5 otherwise. Matches LMArena's
//!   numbers, but ρ shrinks the intervals of rarely-voted models as N grows.
//! - [`SandwichKind::Exact`]: the inverse on the sum-zero subspace
//!   (Moore–Penrose pseudo-inverse), the textbook sandwich for the
//!   constraint Σθ = 0.
//!
//! Note on weights: G uses the squared weight of each vote, which is the
//! correct robust variance for weighted estimating equations and is what
//! arena-rank computes; for unit weights it is the methodology's formula.

use std::sync::OnceLock;

use rayon::prelude::*;

use crate::counts::{OUTCOME_VALUES, PairTable};
use crate::linalg::Matrix;
use crate::problem::{Problem, WinProbabilities};

/// How the gauge singularity of H is handled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum SandwichKind {
    /// `(H + ρI)⁻¹`.
    Ridged(f64),
    /// The pseudo-inverse on the sum-zero subspace.
    Exact,
}

/// A covariance of θ, stored so that the full matrix is formed only when
/// someone (active sampling) asks for it.
#[derive(Debug, Clone)]
pub(crate) enum Covariance {
    /// Sandwich pieces: `V = A G A`, formed lazily.
    Sandwich {
        a: Matrix,
        g: Matrix,
        full: OnceLock<Matrix>,
    },
    /// An explicit matrix (e.g. from bootstrap replicates).
    Dense(Matrix),
}

impl Covariance {
    /// The full covariance matrix.
    pub(crate) fn full(&self) -> &Matrix {
        match self {
            Covariance::Sandwich { a, g, full } => full.get_or_init(|| a.sandwich(g)),
            Covariance::Dense(m) => m,
        }
    }

    /// The variance of θ_i − θ_j.
    pub(crate) fn gap_variance(&self, i: usize, j: usize) -> f64 {
        let v = self.full();
        (v.get(i, i) + v.get(j, j) - 2.0 * v.get(i, j)).max(0.0)
    }
}

/// Per pair, `Σ_outcomes w² (y − p)²`: the pair's weight in G.
fn gradient_weights(table: &PairTable, theta: &[f64]) -> Vec<f64> {
    let sigma = WinProbabilities::new(theta);
    table
        .pairs
        .iter()
        .map(|pair| {
            let p = sigma.of(pair.i, pair.j);
            (0..3)
                .map(|k| pair.cell.weight_sq[k] * (OUTCOME_VALUES[k] - p).powi(2))
                .sum()
        })
        .collect()
}

/// The outer-product matrix G (a weighted graph Laplacian).
fn laplacian(table: &PairTable, weights: &[f64]) -> Matrix {
    let mut g = Matrix::zeros(table.n);
    for (pair, &v) in table.pairs.iter().zip(weights) {
        g.add(pair.i, pair.i, v);
        g.add(pair.j, pair.j, v);
        g.add(pair.i, pair.j, -v);
        g.add(pair.j, pair.i, -v);
    }
    g
}

/// The sandwich covariance and the variances of each θ_i.
///
/// Both kinds are computed from the gauge-pinned inverse
/// `(H + ρI + c·11ᵀ)⁻¹` with its all-ones component removed, which equals
/// `P (H + ρI)⁻¹ P` (P the projection onto Σθ = 0; ρ = 0 for the exact
/// kind). Since G·1 = 0 the sandwich is unchanged by the projection, but the
/// matrix no longer carries the huge `1/(nρ)` entries whose cancellation in
/// `A·G·A` would cost precision.
pub(crate) fn sandwich(
    problem: &Problem<'_>,
    table: &PairTable,
    theta: &[f64],
    kind: SandwichKind,
) -> (Covariance, Vec<f64>) {
    let n = problem.n;
    let rho = match kind {
        SandwichKind::Ridged(rho) => rho,
        SandwichKind::Exact => 0.0,
    };
    let mut h = problem.hessian(theta);
    h.add_diagonal(rho);
    let c = problem.pin_gauge(&mut h);
    let mut a = invert_spd(h, problem.scale);
    let nn = n as f64;
    // 1/√n is an eigenvector of H + ρI (eigenvalue 2λ + ρ, λ the
    // degenerate-data ridge) and of the pinned matrix (2λ + ρ + c·n).
    a.add_constant(-1.0 / (nn * (2.0 * problem.ridge + rho + c * nn)));

    let weights = gradient_weights(table, theta);
    let g = laplacian(table, &weights);
    let variances = if problem.ridge > 0.0 {
        // Degenerate data: A has huge entries along the directions that
        // separate disconnected parts. G is flat along them, and summing
        // per pair, g·(A_ip − A_iq)², cancels them before squaring.
        (0..n)
            .into_par_iter()
            .map(|i| {
                let row = a.row(i);
                table
                    .pairs
                    .iter()
                    .zip(&weights)
                    .map(|(p, w)| w * (row[p.i] - row[p.j]).powi(2))
                    .sum::<f64>()
            })
            .collect()
    } else {
        a.sandwich_diagonal(&g)
    };
    let variances = variances
        .into_iter()
        .map(|v: f64| if v.is_finite() { v.max(0.0) } else { 0.0 })
        .collect();
    (
        Covariance::Sandwich {
            a,
            g,
            full: OnceLock::new(),
        },
        variances,
    )
}

/// Inverts a symmetric positive (semi)definite matrix, adding the smallest
/// diagonal jitter needed if rounding made it numerically singular.
pub(crate) fn invert_spd(h: Matrix, scale: f64) -> Matrix {
    let mut jitter = 0.0;
    let mut step = scale.max(1.0) * 1e-12;
    loop {
        let mut m = h.clone();
        m.add_diagonal(jitter);
        if let Ok(chol) = m.cholesky() {
            return chol.inverse();
        }
        jitter = step;
        step *= 100.0;
        if !jitter.is_finite() {
            return Matrix::zeros(h.size());
        }
    }
}
