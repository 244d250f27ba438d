//! The Bradley–Terry objective on aggregated counts, and its Newton solver.
//!
//! Loss: `L(θ) = Σ_pairs [W·softplus(θ_i − θ_j) − S·(θ_i − θ_j)] + λ Σθ²`,
//! where per unordered pair W is the summed vote weight and S the weighted
//! score of i. This equals the per-vote negative log-likelihood of the
//! methodology, grouped by pair. λ is 0 unless the data are degenerate.

use crate::counts::FitPair;
use crate::linalg::{Cholesky, Matrix, dot};

/// Convergence: the largest gradient entry divided by N (the methodology's
/// criterion).
pub(crate) const GRADIENT_TOLERANCE: f64 = 1e-12;

/// The ridge λ, relative to N, added when the optimum does not exist.
pub(crate) const DEGENERATE_RIDGE: f64 = 1e-6;

/// Newton needs a handful of iterations; this bound only guards against
/// pathological floating-point stalls.
const MAX_ITERATIONS: usize = 100;

/// One Bradley–Terry problem: the pairs, the ridge, and the scale N.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Problem<'a> {
    /// Number of models (unknowns).
    pub(crate) n: usize,
    /// Sufficient statistics per unordered pair.
    pub(crate) pairs: &'a [FitPair],
    /// λ in `λ Σθ²` (0 for well-posed data).
    pub(crate) ridge: f64,
    /// N, the total weight (1 when there is none), for the tolerance.
    pub(crate) scale: f64,
}

/// σ(d) without overflow for large |d|.
#[inline]
pub(crate) fn sigmoid(d: f64) -> f64 {
    if d >= 0.0 {
        1.0 / (1.0 + (-d).exp())
    } else {
        let e = d.exp();
        e / (1.0 + e)
    }
}

/// log(1 + e^d) without overflow.
#[inline]
fn softplus(d: f64) -> f64 {
    d.max(0.0) + (-d.abs()).exp().ln_1p()
}

/// Subtracts the mean, enforcing the gauge Σθ = 0.
pub(crate) fn center(theta: &mut [f64]) {
    if theta.is_empty() {
        return;
    }
    let mean = theta.iter().sum::<f64>() / theta.len() as f64;
    theta.iter_mut().for_each(|t| *t -= mean);
}

/// What Newton's method achieved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct NewtonOutcome {
    /// Newton steps taken.
    pub(crate) iterations: usize,
    /// Whether max|∇L| / N fell below [`GRADIENT_TOLERANCE`].
    pub(crate) converged: bool,
    /// The final max|∇L| / N.
    pub(crate) relative_gradient: f64,
}

impl Problem<'_> {
    /// L(θ), with softplus from [`WinProbabilities`] (one logarithm per
    /// pair; the line search evaluates this at every Newton step).
    pub(crate) fn loss(&self, theta: &[f64]) -> f64 {
        let odds = WinProbabilities::new(theta);
        let data: f64 = self
            .pairs
            .iter()
            .map(|p| {
                let d = theta[p.i] - theta[p.j];
                p.weight * odds.softplus(p.i, p.j) - p.score * d
            })
            .sum();
        data + self.ridge * dot(theta, theta)
    }

    /// ∇L(θ) into `grad`; returns max|∇L|.
    ///
    /// This is the bootstrap's inner loop: σ comes from
    /// [`WinProbabilities`], one exponential per model.
    pub(crate) fn gradient(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        for (g, t) in grad.iter_mut().zip(theta) {
            *g = 2.0 * self.ridge * t;
        }
        let sigma = WinProbabilities::new(theta);
        for p in self.pairs {
            let r = p.weight * sigma.of(p.i, p.j) - p.score;
            grad[p.i] += r;
            grad[p.j] -= r;
        }
        grad.iter().fold(0.0, |m, g| m.max(g.abs()))
    }

    /// ∇²L(θ): per pair σ(θ_i − θ_j) σ(θ_j − θ_i), both from
    /// [`WinProbabilities`] (no `1 − σ` cancellation).
    pub(crate) fn hessian(&self, theta: &[f64]) -> Matrix {
        let mut h = Matrix::zeros(self.n);
        let sigma = WinProbabilities::new(theta);
        for p in self.pairs {
            let v = p.weight * sigma.of(p.i, p.j) * sigma.of(p.j, p.i);
            h.add(p.i, p.i, v);
            h.add(p.j, p.j, v);
            h.add(p.i, p.j, -v);
            h.add(p.j, p.i, -v);
        }
        h.add_diagonal(2.0 * self.ridge);
        h
    }

    /// Pins the gauge of a BT Hessian: the data part annihilates the
    /// all-ones vector, so add c·11ᵀ with c of the size of a typical
    /// eigenvalue. For a gradient with Σg = 0 the solution of the pinned
    /// system is the sum-zero Newton step.
    pub(crate) fn pin_gauge(&self, h: &mut Matrix) -> f64 {
        let n = self.n as f64;
        let c = (h.trace() / n)
            .max(self.scale * 1e-12)
            .max(f64::MIN_POSITIVE)
            / n;
        h.add_constant(c);
        c
    }

    /// Newton's method from `theta` (a warm start or zeros); see [`newton`].
    pub(crate) fn newton(&self, theta: &mut [f64]) -> NewtonOutcome {
        newton(self, theta).0
    }

    /// [`Problem::newton`], also returning its last factored Hessian.
    pub(crate) fn newton_keeping_factor(
        &self,
        theta: &mut [f64],
    ) -> (NewtonOutcome, Option<Cholesky>) {
        newton(self, theta)
    }

    /// The chord method: Newton steps with a fixed, pre-factored pinned
    /// Hessian `chol` of a nearby θ (the full-data optimum for a bootstrap
    /// resample, the previous fit for a refit after a few votes).
    ///
    /// It converges linearly, at the rate of the factor's mismatch, and a
    /// step costs one gradient and two triangular solves instead of a
    /// factorization. Returns how it converged once max|∇L|/N is below
    /// [`GRADIENT_TOLERANCE`], or `None` (leaving `theta` unspecified) when
    /// it is not converging at least twice as fast as it would need to.
    pub(crate) fn chord(&self, chol: &Cholesky, theta: &mut [f64]) -> Option<NewtonOutcome> {
        if chol.size() != self.n {
            return None;
        }
        let mut grad = vec![0.0; self.n];
        let mut previous = f64::INFINITY;
        for steps in 0..60 {
            let g = self.gradient(theta, &mut grad) / self.scale;
            if g < GRADIENT_TOLERANCE {
                return Some(NewtonOutcome {
                    iterations: steps,
                    converged: true,
                    relative_gradient: g,
                });
            }
            if !g.is_finite() || (steps >= 2 && g > 0.5 * previous) {
                return None;
            }
            previous = g;
            grad.iter_mut().for_each(|x| *x = -*x);
            chol.solve_in_place(&mut grad);
            center(&mut grad);
            theta.iter_mut().zip(&grad).for_each(|(t, s)| *t += s);
            center(theta);
        }
        None
    }
}

/// σ(θ_i − θ_j) for the pairs of one θ.
///
/// With `e_i = exp(θ_i − max θ)`, σ(θ_i − θ_j) = `e_i / (e_i + e_j)`: one
/// exponential per model instead of one per pair (200 instead of 19,900 at
/// LMArena's scale; per pair they were a seventh of a warm refit). When the
/// spread of θ would underflow an `e`, σ is computed per pair.
pub(crate) struct WinProbabilities<'t> {
    theta: &'t [f64],
    /// max θ, the reference of the strengths.
    top: f64,
    strengths: Option<Vec<f64>>,
}

impl<'t> WinProbabilities<'t> {
    pub(crate) fn new(theta: &'t [f64]) -> Self {
        let (lo, hi) = theta
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &t| {
                (l.min(t), h.max(t))
            });
        let strengths = (hi - lo < 600.0).then(|| theta.iter().map(|t| (t - hi).exp()).collect());
        WinProbabilities {
            theta,
            top: hi,
            strengths,
        }
    }

    /// σ(θ_i − θ_j): the probability that model `i` beats model `j`.
    #[inline]
    pub(crate) fn of(&self, i: usize, j: usize) -> f64 {
        match &self.strengths {
            Some(e) => e[i] / (e[i] + e[j]),
            None => sigmoid(self.theta[i] - self.theta[j]),
        }
    }

    /// softplus(θ_i − θ_j) = ln(1 + e^(θ_i − θ_j)) = ln(e_i + e_j) − ln e_j.
    ///
    /// Its absolute error is that of the logarithm, a few ulps of
    /// |θ_j − max θ|, which is what the loss's sum needs; a tiny value is
    /// not resolved relative to itself, as no term of the sum is.
    #[inline]
    pub(crate) fn softplus(&self, i: usize, j: usize) -> f64 {
        match &self.strengths {
            Some(e) => (e[i] + e[j]).ln() - (self.theta[j] - self.top),
            None => softplus(self.theta[i] - self.theta[j]),
        }
    }
}

/// A smooth convex objective with a gauge (a direction it is flat along),
/// as Newton's method needs it.
pub(crate) trait Objective {
    /// The objective value.
    fn value(&self, x: &[f64]) -> f64;
    /// The gradient into `grad`; returns its largest absolute entry.
    fn gradient_into(&self, x: &[f64], grad: &mut [f64]) -> f64;
    /// The Hessian with the gauge direction pinned (positive definite).
    fn pinned_hessian(&self, x: &[f64]) -> Matrix;
    /// Projects a point or step onto the gauge (e.g. Σθ = 0).
    fn fix_gauge(&self, x: &mut [f64]);
    /// The scale the gradient tolerance is relative to.
    fn gradient_scale(&self) -> f64;
    /// A ridge to add to the pinned Hessian if rounding made it singular.
    fn fallback_ridge(&self) -> f64;
}

impl Objective for Problem<'_> {
    fn value(&self, x: &[f64]) -> f64 {
        self.loss(x)
    }
    fn gradient_into(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        self.gradient(x, grad)
    }
    fn pinned_hessian(&self, x: &[f64]) -> Matrix {
        let mut h = self.hessian(x);
        self.pin_gauge(&mut h);
        h
    }
    fn fix_gauge(&self, x: &mut [f64]) {
        center(x);
    }
    fn gradient_scale(&self) -> f64 {
        self.scale
    }
    fn fallback_ridge(&self) -> f64 {
        self.scale * DEGENERATE_RIDGE
    }
}

/// Newton's method with a backtracking (Armijo) line search, to
/// max|∇| / scale < [`GRADIENT_TOLERANCE`].
///
/// Also returns the factor of the last pinned Hessian it used (`None` when
/// `x` was already optimal), for later chord steps ([`Problem::chord`]).
pub(crate) fn newton<O: Objective>(o: &O, x: &mut [f64]) -> (NewtonOutcome, Option<Cholesky>) {
    if x.iter().any(|t| !t.is_finite()) {
        x.fill(0.0);
    }
    o.fix_gauge(x);
    let dim = x.len();
    let scale = o.gradient_scale();
    let mut grad = vec![0.0; dim];
    let mut trial = vec![0.0; dim];
    let mut last_factor = None;
    for iterations in 0..MAX_ITERATIONS {
        let relative_gradient = o.gradient_into(x, &mut grad) / scale;
        if relative_gradient < GRADIENT_TOLERANCE {
            let outcome = NewtonOutcome {
                iterations,
                converged: true,
                relative_gradient,
            };
            return (outcome, last_factor);
        }
        let chol = match o.pinned_hessian(x).cholesky() {
            Ok(c) => c,
            Err(_) => {
                // Only reachable when p(1−p) underflows for extreme gaps; a
                // tiny extra ridge keeps the step defined.
                let mut h = o.pinned_hessian(x);
                h.add_diagonal(o.fallback_ridge());
                match h.cholesky() {
                    Ok(c) => c,
                    Err(_) => break,
                }
            }
        };
        let mut step: Vec<f64> = grad.iter().map(|g| -g).collect();
        chol.solve_in_place(&mut step);
        o.fix_gauge(&mut step);
        let slope = dot(&grad, &step);
        if slope.is_nan() || slope >= 0.0 {
            break;
        }
        let f0 = o.value(x);
        // Near the optimum the decrease −slope/2 drops below the resolution
        // of the objective itself; a pure Newton step is then safe
        // (quadratic convergence) and a line search would only stall.
        let quadratic = -slope <= 1e-9 * (f0.abs() + 1e-300);
        let mut t = 1.0;
        let mut accepted = false;
        for _ in 0..60 {
            for ((y, &s), &xi) in trial.iter_mut().zip(&step).zip(x.iter()) {
                *y = xi + t * s;
            }
            if quadratic || o.value(&trial) <= f0 + 1e-4 * t * slope {
                accepted = true;
                break;
            }
            t *= 0.5;
        }
        if !accepted {
            break;
        }
        x.copy_from_slice(&trial);
        o.fix_gauge(x);
        last_factor = Some(chol);
    }
    let relative_gradient = o.gradient_into(x, &mut grad) / scale;
    let outcome = NewtonOutcome {
        iterations: MAX_ITERATIONS,
        converged: relative_gradient < GRADIENT_TOLERANCE,
        relative_gradient,
    };
    (outcome, last_factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(i: usize, j: usize, weight: f64, score: f64) -> FitPair {
        FitPair {
            i,
            j,
            weight,
            score,
        }
    }

    #[test]
    fn two_models_fit_the_observed_odds() {
        // 3 wins out of 4: θ_0 − θ_1 = ln 3.
        let pairs = [pair(0, 1, 4.0, 3.0)];
        let p = Problem {
            n: 2,
            pairs: &pairs,
            ridge: 0.0,
            scale: 4.0,
        };
        let mut theta = vec![0.0; 2];
        let out = p.newton(&mut theta);
        assert!(out.converged, "{out:?}");
        assert!((theta[0] - theta[1] - 3f64.ln()).abs() < 1e-12);
        assert!(theta.iter().sum::<f64>().abs() < 1e-14);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let pairs = [
            pair(0, 1, 4.0, 3.0),
            pair(1, 2, 2.0, 0.5),
            pair(0, 2, 3.0, 1.0),
        ];
        let p = Problem {
            n: 3,
            pairs: &pairs,
            ridge: 0.1,
            scale: 9.0,
        };
        let theta = [0.3, -0.2, 0.7];
        let mut g = vec![0.0; 3];
        p.gradient(&theta, &mut g);
        for k in 0..3 {
            let mut hi = theta;
            let mut lo = theta;
            hi[k] += 1e-6;
            lo[k] -= 1e-6;
            let fd = (p.loss(&hi) - p.loss(&lo)) / 2e-6;
            assert!((fd - g[k]).abs() < 1e-7, "{k}: {fd} vs {}", g[k]);
        }
        let h = p.hessian(&theta);
        for k in 0..3 {
            let mut hi = theta;
            hi[k] += 1e-6;
            let mut g2 = vec![0.0; 3];
            p.gradient(&hi, &mut g2);
            for m in 0..3 {
                assert!(((g2[m] - g[m]) / 1e-6 - h.get(m, k)).abs() < 1e-5);
            }
        }
    }
}
