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

use std::convert::Infallible;

use rand::{RngExt, TryRng};

/// The generator of every seeded draw in this crate: xoshiro256++
/// (Blackman & Vigna), seeded through SplitMix64.
///
/// Why not `StdRng`: the bootstrap draws ~60 M numbers for 1,000 rounds on
/// 200 models, and ChaCha12 was a fifth of its time; xoshiro256++ is several
/// times faster, passes BigCrush, and—being written here—its stream is fixed
/// for good, so seeded results stay reproducible across `rand` upgrades.
#[derive(Debug, Clone)]
pub(crate) struct FastRng {
    s: [u64; 4],
}

impl FastRng {
    /// A generator seeded from one number.
    pub(crate) fn seed_from_u64(seed: u64) -> Self {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        FastRng {
            s: [next(), next(), next(), next()],
        }
    }

    #[inline]
    fn step(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }
}

impl TryRng for FastRng {
    type Error = Infallible;

    #[inline]
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok((self.step() >> 32) as u32)
    }

    #[inline]
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.step())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.step().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}

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
    pub(crate) fn sample(&self, rng: &mut FastRng) -> usize {
        let i = rng.random_range(0..self.prob.len());
        if rng.random::<f64>() < self.prob[i] {
            i
        } else {
            self.alias[i]
        }
    }
}

/// Means below this use a shared lookup table; above it, PTRS.
const TABLE_LIMIT: f64 = 64.0;

/// Inversion by table lookup for a Poisson(μ) with small μ: the CDF, and a
/// guide table mapping ⌊u·len⌋ to the first candidate, so that a draw
/// costs one uniform and about one comparison.
#[derive(Debug, Clone)]
struct PoissonTable {
    cdf: Vec<f64>,
    guide: Vec<u32>,
}

impl PoissonTable {
    fn new(mu: f64) -> Self {
        let mut cdf = Vec::new();
        let (mut p, mut sum) = ((-mu).exp(), 0.0);
        let mut k = 0u32;
        loop {
            sum += p;
            cdf.push(sum);
            k += 1;
            p *= mu / f64::from(k);
            // Stop once past the mean and the remaining tail is negligible.
            if (f64::from(k) > mu && p < 1e-17) || k > 10_000 {
                break;
            }
        }
        // Make the last entry catch every u < 1 despite rounding.
        if let Some(last) = cdf.last_mut() {
            *last = f64::INFINITY;
        }
        let len = cdf.len();
        let mut guide = Vec::with_capacity(len);
        let mut k = 0usize;
        for g in 0..len {
            let threshold = g as f64 / len as f64;
            while cdf[k] <= threshold {
                k += 1;
            }
            guide.push(k as u32);
        }
        PoissonTable { cdf, guide }
    }

    #[inline]
    fn sample(&self, rng: &mut FastRng) -> u64 {
        let u: f64 = rng.random();
        let mut k = self.guide[(u * self.guide.len() as f64) as usize] as usize;
        while self.cdf[k] <= u {
            k += 1;
        }
        k as u64
    }
}

/// Hörmann's PTRS (transformed rejection with squeeze) for a Poisson(μ)
/// with large μ, constants precomputed.
#[derive(Debug, Clone, Copy)]
struct Ptrs {
    mu: f64,
    log_mu: f64,
    a: f64,
    b: f64,
    log_inv_alpha: f64,
    vr: f64,
}

impl Ptrs {
    fn new(mu: f64) -> Self {
        let b = 0.931 + 2.53 * mu.sqrt();
        Ptrs {
            mu,
            log_mu: mu.ln(),
            a: -0.059 + 0.02483 * b,
            b,
            log_inv_alpha: (1.1239 + 1.1328 / (b - 3.4)).ln(),
            vr: 0.9277 - 3.6224 / (b - 2.0),
        }
    }

    fn sample(&self, rng: &mut FastRng) -> u64 {
        let Ptrs {
            mu,
            log_mu,
            a,
            b,
            log_inv_alpha,
            vr,
        } = *self;
        loop {
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

/// Per-cell sampler code: below `tables.len()` a table index, [`ZERO`] for
/// an empty cell, otherwise `tables.len() + k` for the k-th PTRS sampler.
/// Four bytes per cell keep the per-round sweep cache-friendly.
const ZERO: u32 = u32::MAX;

/// Draws Multinomial(N, c_k / N) over fixed cells with counts c_k.
#[derive(Debug, Clone)]
pub(crate) struct Multinomial {
    total: u64,
    alias: AliasTable,
    /// `None`: draw N categories directly (cheaper when N is small).
    codes: Option<Vec<u32>>,
    /// Lookup tables shared by every cell with the same count.
    tables: Vec<PoissonTable>,
    /// Samplers for cells with large means.
    ptrs: Vec<Ptrs>,
}

impl Multinomial {
    /// The sampler for cells with these counts (N = their sum, > 0).
    pub(crate) fn new(counts: &[u64]) -> Self {
        let total: u64 = counts.iter().sum();
        let weights: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
        let alias = AliasTable::new(&weights);
        let direct = total <= 4 * (counts.len() as u64).max(4096);
        let mut tables = Vec::new();
        let mut ptrs = Vec::new();
        let codes = (!direct).then(|| {
            let lambda = 1.0 - 3.0 / (total as f64).sqrt();
            let mut by_count = crate::hash::FastMap::<u64, u32>::default();
            let mut large = Vec::new();
            let mut codes: Vec<u32> = counts
                .iter()
                .enumerate()
                .map(|(k, &c)| {
                    let mu = lambda * c as f64;
                    if c == 0 {
                        ZERO
                    } else if mu < TABLE_LIMIT {
                        *by_count.entry(c).or_insert_with(|| {
                            tables.push(PoissonTable::new(mu));
                            (tables.len() - 1) as u32
                        })
                    } else {
                        large.push(k);
                        ptrs.push(Ptrs::new(mu));
                        0 // patched below, once the number of tables is known
                    }
                })
                .collect();
            for (j, &k) in large.iter().enumerate() {
                codes[k] = (tables.len() + j) as u32;
            }
            codes
        });
        Multinomial {
            total,
            alias,
            codes,
            tables,
            ptrs,
        }
    }

    /// One draw into `out` (length = number of cells).
    pub(crate) fn sample(&self, rng: &mut FastRng, out: &mut [u64]) {
        let drawn = match &self.codes {
            None => {
                out.fill(0);
                0
            }
            Some(codes) => loop {
                let n_tables = self.tables.len();
                let mut sum = 0;
                for (o, &code) in out.iter_mut().zip(codes) {
                    let code = code as usize;
                    *o = if code < n_tables {
                        self.tables[code].sample(rng)
                    } else if code == ZERO as usize {
                        0
                    } else {
                        self.ptrs[code - n_tables].sample(rng)
                    };
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
        let mut rng = FastRng::seed_from_u64(7);
        for mu in [0.3, 4.0, 12.0, 63.0, 64.0, 250.0] {
            let table = PoissonTable::new(mu);
            let ptrs = Ptrs::new(mu);
            let draw = |rng: &mut FastRng| {
                if mu < TABLE_LIMIT {
                    table.sample(rng)
                } else {
                    ptrs.sample(rng)
                }
            };
            let n = 200_000;
            let xs: Vec<f64> = (0..n).map(|_| draw(&mut rng) as f64).collect();
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
            let mut rng = FastRng::seed_from_u64(1);
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
                assert!(
                    (mean - c as f64).abs() <= 5.0 * sd / (rounds as f64).sqrt() + 1e-9,
                    "{mean} vs {c}"
                );
            }
        }
    }

    #[test]
    fn alias_table_reproduces_the_weights() {
        let t = AliasTable::new(&[1.0, 0.0, 3.0]);
        let mut rng = FastRng::seed_from_u64(3);
        let mut hits = [0usize; 3];
        for _ in 0..40_000 {
            hits[t.sample(&mut rng)] += 1;
        }
        assert_eq!(hits[1], 0);
        assert!((hits[2] as f64 / 40_000.0 - 0.75).abs() < 0.01);
    }
}
