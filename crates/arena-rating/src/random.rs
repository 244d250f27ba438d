//! Seeded random draws for the bootstrap: exact multinomial counts.
//!
//! Resampling N votes with replacement equals drawing the cell counts from
//! Multinomial(N, c_k / N). Drawing N categories one by one costs O(N) per
//! round; instead we use a classic exact construction that costs O(cells):
//! independent X_k ~ Poisson(λ c_k) conditioned on their sum S are
//! Multinomial(S, c_k/N); with λ = 1 − 3/√N the sum stays below N
//! (redrawn in the rare case it does not), and the N − S ≈ 3√N missing votes
//! are added by single categorical draws from an alias table. The result is
//! exactly Multinomial(N, c_k/N).

use rand::RngExt;
use rand::rngs::StdRng;

/// Walker/Vose alias table: O(1) draws from a fixed discrete distribution.
#[derive(Debug, Clone)]
pub(crate) struct AliasTable {
    prob: Vec<f64>,
    alias: Vec<usize>,
}

impl AliasTable {
    /// A table for the given non-negative weights (not all zero).
    pub(crate) fn new(weights: &[f64]) -> Self {
        let k = weights.len();
        let total: f64 = weights.iter().sum();
        let mut prob: Vec<f64> = weights.iter().map(|w| w * k as f64 / total).collect();
        let mut alias: Vec<usize> = (0..k).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) = (0..k).partition(|&i| prob[i] < 1.0);
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            alias[s] = l;
            prob[l] -= 1.0 - prob[s];
            if prob[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // Leftovers are 1 up to rounding.
        for i in small.into_iter().chain(large) {
            prob[i] = 1.0;
        }
        AliasTable { prob, alias }
    }

    /// One draw.
    #[inline]
    pub(crate) fn sample(&self, rng: &mut StdRng) -> usize {
        let i = rng.random_range(0..self.prob.len());
        if rng.random::<f64>() < self.prob[i] {
            i
        } else {
            self.alias[i]
        }
    }
}

/// Precomputed constants of a Poisson(μ) sampler.
#[derive(Debug, Clone, Copy)]
enum Poisson {
    Zero,
    /// Inversion by sequential search, for small μ.
    Inversion { mu: f64, exp_neg_mu: f64 },
    /// Hörmann's PTRS (transformed rejection with squeeze), for μ ≥ 10.
    Ptrs {
        mu: f64,
        log_mu: f64,
        a: f64,
        b: f64,
        log_inv_alpha: f64,
        vr: f64,
    },
}

impl Poisson {
    fn new(mu: f64) -> Self {
        if mu <= 0.0 {
            Poisson::Zero
        } else if mu < 10.0 {
            Poisson::Inversion {
                mu,
                exp_neg_mu: (-mu).exp(),
            }
        } else {
            let b = 0.931 + 2.53 * mu.sqrt();
            Poisson::Ptrs {
                mu,
                log_mu: mu.ln(),
                a: -0.059 + 0.02483 * b,
                b,
                log_inv_alpha: (1.1239 + 1.1328 / (b - 3.4)).ln(),
                vr: 0.9277 - 3.6224 / (b - 2.0),
            }
        }
    }

    fn sample(&self, rng: &mut StdRng) -> u64 {
        match *self {
            Poisson::Zero => 0,
            Poisson::Inversion { mu, exp_neg_mu } => {
                let u: f64 = rng.random();
                let (mut k, mut p) = (0u64, exp_neg_mu);
                let mut cdf = p;
                // The bound only guards against rounding leaving cdf < u.
                while u > cdf && k < 1000 {
                    k += 1;
                    p *= mu / k as f64;
                    cdf += p;
                }
                k
            }
            Poisson::Ptrs {
                mu,
                log_mu,
                a,
                b,
                log_inv_alpha,
                vr,
            } => loop {
                let u = rng.random::<f64>() - 0.5;
                let v: f64 = rng.random();
                let us = 0.5 - u.abs();
                if us <= 0.0 {
                    continue;
                }
                let k = ((2.0 * a / us + b) * u + mu + 0.43).floor();
                if us >= 0.07 && v <= vr {
                    return k as u64;
                }
                if k < 0.0 || (us < 0.013 && v > us) {
                    continue;
                }
                let lhs = v.ln() + log_inv_alpha - (a / (us * us) + b).ln();
                if lhs <= -mu + k * log_mu - ln_factorial(k) {
                    return k as u64;
                }
            },
        }
    }
}

/// ln k! — exact sum for small k, Stirling's series (error < 1e-12) above.
fn ln_factorial(k: f64) -> f64 {
    if k < 10.0 {
        (2..=(k as u64)).map(|i| (i as f64).ln()).sum()
    } else {
        let inv = 1.0 / k;
        let inv2 = inv * inv;
        (k + 0.5) * k.ln() - k
            + 0.5 * (2.0 * std::f64::consts::PI).ln()
            + inv * (1.0 / 12.0 - inv2 * (1.0 / 360.0 - inv2 / 1260.0))
    }
}

/// Draws Multinomial(N, c_k / N) over fixed cells with counts c_k.
#[derive(Debug, Clone)]
pub(crate) struct Multinomial {
    total: u64,
    alias: AliasTable,
    /// None: draw N categories directly (cheaper when N is small).
    poisson: Option<Vec<Poisson>>,
}

impl Multinomial {
    /// The sampler for cells with these counts (N = their sum, > 0).
    pub(crate) fn new(counts: &[u64]) -> Self {
        let total: u64 = counts.iter().sum();
        let weights: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
        let alias = AliasTable::new(&weights);
        let direct = total <= 4 * (counts.len() as u64).max(4096);
        let poisson = (!direct).then(|| {
            let lambda = 1.0 - 3.0 / (total as f64).sqrt();
            weights.iter().map(|&c| Poisson::new(lambda * c)).collect()
        });
        Multinomial {
            total,
            alias,
            poisson,
        }
    }

    /// One draw into `out` (length = number of cells).
    pub(crate) fn sample(&self, rng: &mut StdRng, out: &mut [u64]) {
        let drawn = match &self.poisson {
            None => {
                out.fill(0);
                0
            }
            Some(cells) => loop {
                let mut sum = 0;
                for (o, p) in out.iter_mut().zip(cells) {
                    *o = p.sample(rng);
                    sum += *o;
                }
                if sum <= self.total {
                    break sum;
                }
            },
        };
        for _ in drawn..self.total {
            out[self.alias.sample(rng)] += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn ln_factorial_is_accurate() {
        let mut exact = 0.0;
        for k in 1..60u64 {
            exact += (k as f64).ln();
            assert!((ln_factorial(k as f64) - exact).abs() < 1e-10, "{k}");
        }
    }

    #[test]
    fn poisson_has_the_right_mean_and_variance() {
        let mut rng = StdRng::seed_from_u64(7);
        for mu in [0.3, 4.0, 12.0, 250.0] {
            let p = Poisson::new(mu);
            let n = 200_000;
            let xs: Vec<f64> = (0..n).map(|_| p.sample(&mut rng) as f64).collect();
            let mean = xs.iter().sum::<f64>() / n as f64;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
            let se = (mu / n as f64).sqrt();
            assert!((mean - mu).abs() < 5.0 * se, "mu={mu} mean={mean}");
            assert!((var / mu - 1.0).abs() < 0.03, "mu={mu} var={var}");
        }
    }

    #[test]
    fn multinomial_keeps_the_total_and_the_proportions() {
        for counts in [vec![5u64, 0, 10, 85], vec![40_000, 25_000, 35_000, 100, 0]] {
            let m = Multinomial::new(&counts);
            let total: u64 = counts.iter().sum();
            let mut rng = StdRng::seed_from_u64(1);
            let mut out = vec![0; counts.len()];
            let mut sums = vec![0.0; counts.len()];
            let rounds = 400;
            for _ in 0..rounds {
                m.sample(&mut rng, &mut out);
                assert_eq!(out.iter().sum::<u64>(), total);
                assert_eq!(out[counts.iter().position(|&c| c == 0).unwrap()], 0);
                for (s, o) in sums.iter_mut().zip(&out) {
                    *s += *o as f64;
                }
            }
            for (s, &c) in sums.iter().zip(&counts) {
                let mean = s / rounds as f64;
                let sd = (c as f64 * (1.0 - c as f64 / total as f64)).sqrt();
                assert!((mean - c as f64).abs() <= 5.0 * sd / (rounds as f64).sqrt() + 1e-9, "{mean} vs {c}");
            }
        }
    }

    #[test]
    fn alias_table_reproduces_the_weights() {
        let t = AliasTable::new(&[1.0, 0.0, 3.0]);
        let mut rng = StdRng::seed_from_u64(3);
        let mut hits = [0usize; 3];
        for _ in 0..40_000 {
            hits[t.sample(&mut rng)] += 1;
        }
        assert_eq!(hits[1], 0);
        assert!((hits[2] as f64 / 40_000.0 - 0.75).abs() < 0.01);
    }
}
