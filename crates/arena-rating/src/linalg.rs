//! Small dense linear algebra: symmetric positive-definite solves and inverses.
//!
//! Decision: we write the ~150 lines we need instead of pulling in a linear
//! algebra crate. The systems are at most a few hundred (say ≤ 1000) unknowns,
//! one per model, so a straightforward Cholesky factorization with
//! cache-friendly row loops is fast enough (a 200×200 factorization is about
//! 1.3 M multiply-adds) and keeps the dependency tree lean.

// Index loops below mirror the textbook formulas; iterator rewrites would
// obscure which triangle of which matrix is being touched.
#![allow(clippy::needless_range_loop)]

use rayon::prelude::*;

/// Matrices at least this large are multiplied on several threads: below
/// it, the product takes well under a millisecond and threads cost more.
const PARALLEL_FROM: usize = 96;

/// A dense square matrix, row-major.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Matrix {
    n: usize,
    data: Vec<f64>,
}

/// The matrix handed to [`Matrix::cholesky`] was not positive definite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotPositiveDefinite;

impl Matrix {
    /// The n×n zero matrix.
    pub(crate) fn zeros(n: usize) -> Self {
        Matrix {
            n,
            data: vec![0.0; n * n],
        }
    }

    /// The number of rows (and columns).
    pub(crate) fn size(&self) -> usize {
        self.n
    }

    /// Entry (i, j).
    #[inline]
    pub(crate) fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.n + j]
    }

    /// Adds `v` to entry (i, j).
    #[inline]
    pub(crate) fn add(&mut self, i: usize, j: usize, v: f64) {
        self.data[i * self.n + j] += v;
    }

    /// Row i as a slice.
    #[inline]
    pub(crate) fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.n..(i + 1) * self.n]
    }

    /// Adds `c` to every entry: `A + c·11ᵀ`. Used to pin the gauge direction
    /// of a matrix whose null space is the all-ones vector.
    pub(crate) fn add_constant(&mut self, c: f64) {
        self.data.iter_mut().for_each(|x| *x += c);
    }

    /// Adds `c` to every diagonal entry: `A + c·I`.
    pub(crate) fn add_diagonal(&mut self, c: f64) {
        for i in 0..self.n {
            self.data[i * self.n + i] += c;
        }
    }

    /// The sum of the diagonal.
    pub(crate) fn trace(&self) -> f64 {
        (0..self.n).map(|i| self.get(i, i)).sum()
    }

    /// Factors a symmetric positive-definite matrix in place into its lower
    /// Cholesky factor L (A = L Lᵀ); the upper triangle is zeroed.
    ///
    /// Row-oriented (Cholesky–Banachiewicz) so the inner products run over
    /// contiguous memory.
    pub(crate) fn cholesky(mut self) -> Result<Cholesky, NotPositiveDefinite> {
        let n = self.n;
        for i in 0..n {
            let (head, tail) = self.data.split_at_mut(i * n);
            let row_i = &mut tail[..n];
            for j in 0..i {
                let row_j = &head[j * n..j * n + j + 1];
                let s = row_i[j] - dot(&row_i[..j], &row_j[..j]);
                row_i[j] = s / row_j[j];
            }
            let s = row_i[i] - dot(&row_i[..i], &row_i[..i]);
            // `!(s > 0.0)` also catches NaN.
            if !(s > 0.0 && s.is_finite()) {
                return Err(NotPositiveDefinite);
            }
            row_i[i] = s.sqrt();
            row_i[i + 1..].fill(0.0);
        }
        Ok(Cholesky { l: self })
    }

    /// `self · other`, both n×n. Loop order i-k-j keeps the inner loop an
    /// axpy over contiguous rows, which the compiler vectorizes; rows are
    /// independent, so large products are split across threads.
    pub(crate) fn mul(&self, other: &Matrix) -> Matrix {
        let n = self.n;
        let mut out = Matrix::zeros(n);
        let row_of = |i: usize, out_row: &mut [f64]| {
            for k in 0..n {
                let a = self.data[i * n + k];
                if a != 0.0 {
                    axpy(a, &other.data[k * n..(k + 1) * n], out_row);
                }
            }
        };
        if n >= PARALLEL_FROM {
            out.data
                .par_chunks_mut(n)
                .enumerate()
                .for_each(|(i, row)| row_of(i, row));
        } else {
            for (i, row) in out.data.chunks_mut(n.max(1)).enumerate() {
                row_of(i, row);
            }
        }
        out
    }

    /// The diagonal of `self · other · self` for symmetric `self` and `other`,
    /// without forming the full product (n³ instead of 2n³ multiply-adds).
    pub(crate) fn sandwich_diagonal(&self, other: &Matrix) -> Vec<f64> {
        let m = self.mul(other);
        (0..self.n).map(|i| dot(m.row(i), self.row(i))).collect()
    }

    /// `self · v`.
    #[cfg(test)]
    pub(crate) fn mul_vec(&self, v: &[f64]) -> Vec<f64> {
        (0..self.n).map(|i| dot(self.row(i), v)).collect()
    }
}

/// A lower Cholesky factor L with A = L Lᵀ.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cholesky {
    l: Matrix,
}

impl Cholesky {
    /// Solves A x = b in place (b becomes x).
    pub(crate) fn solve_in_place(&self, b: &mut [f64]) {
        let n = self.l.n;
        let l = &self.l.data;
        // Forward substitution: L y = b.
        for i in 0..n {
            let s = b[i] - dot(&l[i * n..i * n + i], &b[..i]);
            b[i] = s / l[i * n + i];
        }
        // Back substitution: Lᵀ x = y, walking columns of L as rows of Lᵀ.
        for i in (0..n).rev() {
            let xi = b[i] / l[i * n + i];
            b[i] = xi;
            // Subtract xi · L[i][..i] from the remaining unknowns.
            let row = &l[i * n..i * n + i];
            for (bk, lik) in b[..i].iter_mut().zip(row) {
                *bk -= xi * lik;
            }
        }
    }

    /// A⁻¹ = L⁻ᵀ L⁻¹, computed as W = L⁻¹ row by row and then Wᵀ W as a sum
    /// of outer products of W's rows (both steps stream contiguous rows).
    pub(crate) fn inverse(&self) -> Matrix {
        let n = self.l.n;
        let l = &self.l.data;
        let mut w = Matrix::zeros(n);
        for i in 0..n {
            // Row i of W: (e_i − Σ_{k<i} L[i][k] · W[k]) / L[i][i]; W is lower.
            let (done, rest) = w.data.split_at_mut(i * n);
            let row = &mut rest[..n];
            row[i] = 1.0;
            for k in 0..i {
                let lik = l[i * n + k];
                if lik != 0.0 {
                    let wk = &done[k * n..k * n + k + 1];
                    for (r, x) in row[..=k].iter_mut().zip(wk) {
                        *r -= lik * x;
                    }
                }
            }
            let d = l[i * n + i];
            row[..=i].iter_mut().for_each(|x| *x /= d);
        }
        let mut inv = Matrix::zeros(n);
        for i in 0..n {
            let wi = &w.data[i * n..i * n + i + 1];
            for p in 0..=i {
                let a = wi[p];
                if a != 0.0 {
                    axpy(a, wi, &mut inv.data[p * n..p * n + i + 1]);
                }
            }
        }
        // Only entries (p, q ≤ i) were accumulated per row i; the sum over
        // rows covers every (p, q) with both ≤ i, i.e. the full matrix.
        inv
    }
}

/// Dot product with four accumulators so the compiler can vectorize it.
#[inline]
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let len = a.len().min(b.len());
    let (a, b) = (&a[..len], &b[..len]);
    let mut acc = [0.0f64; 4];
    let chunks = len / 4;
    for c in 0..chunks {
        let k = c * 4;
        acc[0] += a[k] * b[k];
        acc[1] += a[k + 1] * b[k + 1];
        acc[2] += a[k + 2] * b[k + 2];
        acc[3] += a[k + 3] * b[k + 3];
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for k in chunks * 4..len {
        s += a[k] * b[k];
    }
    s
}

/// y += a·x.
#[inline]
fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_rows(rows: &[&[f64]]) -> Matrix {
        let n = rows.len();
        let mut m = Matrix::zeros(n);
        for (i, r) in rows.iter().enumerate() {
            for (j, v) in r.iter().enumerate() {
                m.add(i, j, *v);
            }
        }
        m
    }

    fn spd(n: usize) -> Matrix {
        // A = B Bᵀ + n·I with a fixed, irregular B.
        let mut b = Matrix::zeros(n);
        for i in 0..n {
            for j in 0..n {
                b.add(i, j, ((i * 7 + j * 13) % 11) as f64 / 5.0 - 1.0);
            }
        }
        let mut bt = Matrix::zeros(n);
        for i in 0..n {
            for j in 0..n {
                bt.add(i, j, b.get(j, i));
            }
        }
        let mut a = b.mul(&bt);
        a.add_diagonal(n as f64);
        a
    }

    #[test]
    fn solves_a_small_system() {
        let a = from_rows(&[&[4.0, 2.0, 0.6], &[2.0, 5.0, 1.0], &[0.6, 1.0, 3.0]]);
        let x_true = [1.0, -2.0, 0.5];
        let mut b = a.mul_vec(&x_true);
        a.cholesky().unwrap().solve_in_place(&mut b);
        for (x, t) in b.iter().zip(x_true) {
            assert!((x - t).abs() < 1e-12, "{x} vs {t}");
        }
    }

    #[test]
    fn inverse_times_matrix_is_identity() {
        for n in [1, 2, 5, 17, 40] {
            let a = spd(n);
            let inv = a.clone().cholesky().unwrap().inverse();
            let id = a.mul(&inv);
            for i in 0..n {
                for j in 0..n {
                    let e = if i == j { 1.0 } else { 0.0 };
                    assert!(
                        (id.get(i, j) - e).abs() < 1e-10,
                        "n={n} ({i},{j}) {}",
                        id.get(i, j)
                    );
                }
            }
        }
    }

    #[test]
    fn sandwich_diagonal_matches_full_product() {
        let a = spd(9);
        let g = spd(9);
        let full = a.mul(&g).mul(&a);
        let diag = a.sandwich_diagonal(&g);
        for (i, d) in diag.iter().enumerate() {
            assert!((d - full.get(i, i)).abs() < 1e-8 * full.get(i, i).abs().max(1.0));
        }
    }

    #[test]
    fn rejects_indefinite_and_singular_matrices() {
        assert!(from_rows(&[&[1.0, 2.0], &[2.0, 1.0]]).cholesky().is_err());
        assert!(from_rows(&[&[1.0, 1.0], &[1.0, 1.0]]).cholesky().is_err());
        assert!(from_rows(&[&[f64::NAN]]).cholesky().is_err());
    }
}
