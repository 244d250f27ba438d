//! Small dense linear algebra: symmetric positive-definite solves and inverses.
//!
//! Decision: we write the few hundred lines we need instead of pulling in a linear
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

    /// Calls `fill(i, row i)` for every row, on several threads for large
    /// matrices (below [`PARALLEL_FROM`] threads cost more than they save).
    fn fill_rows(&mut self, fill: impl Fn(usize, &mut [f64]) + Sync) {
        let n = self.n;
        if n >= PARALLEL_FROM {
            self.data
                .par_chunks_mut(n)
                .enumerate()
                .for_each(|(i, row)| fill(i, row));
        } else {
            for (i, row) in self.data.chunks_mut(n.max(1)).enumerate() {
                fill(i, row);
            }
        }
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
        out.fill_rows(row_of);
        out
    }

    /// The diagonal of `self · other · self` for symmetric `self` and `other`,
    /// without forming any product matrix.
    ///
    /// Entry k is the quadratic form `a_kᵀ · other · a_k` of row k of
    /// `self`; with `other` symmetric it is
    /// `Σ_i a_ki (other_ii a_ki + 2 Σ_{j>i} other_ij a_kj)`, which reads only
    /// the upper triangle: n³/2 multiply-adds in all instead of the n³ of
    /// `self · other`. Rows are independent, so large matrices are split
    /// across threads.
    pub(crate) fn sandwich_diagonal(&self, other: &Matrix) -> Vec<f64> {
        let n = self.n;
        let form = |k: usize| {
            let a = self.row(k);
            let mut sum = 0.0;
            for i in 0..n {
                let g = other.row(i);
                let off_diagonal = dot(&g[i + 1..], &a[i + 1..]);
                sum += a[i] * (g[i] * a[i] + 2.0 * off_diagonal);
            }
            sum
        };
        if n >= PARALLEL_FROM {
            (0..n).into_par_iter().map(form).collect()
        } else {
            (0..n).map(form).collect()
        }
    }

    /// `self · other · self` for symmetric `self` and `other`.
    ///
    /// The result is symmetric: after `M = self · other` (n³), entry (p, q)
    /// is row p of M dotted with row q of `self` (its column q), computed
    /// for q ≥ p only and mirrored. 1.5 n³ multiply-adds instead of 2 n³.
    pub(crate) fn sandwich(&self, other: &Matrix) -> Matrix {
        let n = self.n;
        let m = self.mul(other);
        let mut out = Matrix::zeros(n);
        out.fill_rows(|p, row| {
            let mp = m.row(p);
            for q in p..n {
                row[q] = dot(mp, self.row(q));
            }
        });
        out.mirror_upper();
        out
    }

    /// Copies the upper triangle onto the lower one.
    fn mirror_upper(&mut self) {
        let n = self.n;
        for p in 0..n {
            for q in 0..p {
                self.data[p * n + q] = self.data[q * n + p];
            }
        }
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
    /// The order n of the factored n×n matrix.
    pub(crate) fn size(&self) -> usize {
        self.l.n
    }

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

    /// A⁻¹ = L⁻ᵀ L⁻¹.
    ///
    /// Column c of W = L⁻¹ solves `L w = e_c` and is zero above row c; the
    /// columns are independent, so they are found in parallel and kept as
    /// the rows of the upper-triangular Wᵀ. Then `A⁻¹[p][q]` is the dot
    /// product of rows p and q of Wᵀ from column max(p, q) on: only the
    /// upper triangle is computed (n³/6 multiply-adds) and mirrored.
    pub(crate) fn inverse(&self) -> Matrix {
        let n = self.l.n;
        let l = &self.l.data;
        let mut wt = Matrix::zeros(n);
        let column_of_inverse = |c: usize, row: &mut [f64]| {
            // Forward substitution restricted to rows c.. (the rest is 0).
            row[c] = 1.0 / l[c * n + c];
            for i in c + 1..n {
                let s = dot(&l[i * n + c..i * n + i], &row[c..i]);
                row[i] = -s / l[i * n + i];
            }
        };
        wt.fill_rows(column_of_inverse);
        let gram_row = |p: usize, out: &mut [f64]| {
            let wp = wt.row(p);
            for q in p..n {
                out[q] = dot(&wp[q..], &wt.row(q)[q..]);
            }
        };
        let mut inv = Matrix::zeros(n);
        inv.fill_rows(gram_row);
        inv.mirror_upper();
        inv
    }
}

/// Dot product over the common length of `a` and `b`.
///
/// Eight independent accumulators over exact chunks: the compiler drops
/// the bounds checks and vectorizes, and the additions do not wait on each
/// other (with one accumulator, each waited for the previous one).
#[inline]
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let len = a.len().min(b.len());
    let (a, b) = (&a[..len], &b[..len]);
    let mut acc = [0.0f64; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f64 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let pairs = [
        acc[0] + acc[4],
        acc[1] + acc[5],
        acc[2] + acc[6],
        acc[3] + acc[7],
    ];
    (pairs[0] + pairs[2]) + (pairs[1] + pairs[3]) + tail
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
        // 120 ≥ PARALLEL_FROM: the threaded path too.
        for n in [1, 2, 5, 17, 40, 120] {
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
        for n in [9, 120] {
            let a = spd(n);
            let g = spd(n);
            let full = a.mul(&g).mul(&a);
            let diag = a.sandwich_diagonal(&g);
            for (i, d) in diag.iter().enumerate() {
                let want = full.get(i, i);
                assert!((d - want).abs() < 1e-10 * want.abs().max(1.0), "n={n} {i}");
            }
        }
    }

    #[test]
    fn sandwich_matches_the_two_products() {
        for n in [7, 120] {
            let a = spd(n);
            let g = spd(n);
            let full = a.mul(&g).mul(&a);
            let got = a.sandwich(&g);
            for i in 0..n {
                for j in 0..n {
                    let want = full.get(i, j);
                    assert!(
                        (got.get(i, j) - want).abs() < 1e-10 * want.abs().max(1.0),
                        "n={n} ({i},{j})"
                    );
                }
            }
        }
    }

    #[test]
    fn rejects_indefinite_and_singular_matrices() {
        assert!(from_rows(&[&[1.0, 2.0], &[2.0, 1.0]]).cholesky().is_err());
        assert!(from_rows(&[&[1.0, 1.0], &[1.0, 1.0]]).cholesky().is_err());
        assert!(from_rows(&[&[f64::NAN]]).cholesky().is_err());
    }
}
