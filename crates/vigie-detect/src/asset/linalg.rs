//! The little dense linear algebra the asset model needs, written out rather than
//! borrowed from a crate: symmetric matrices only, at most a few hundred rows, and two
//! costs that matter. Per row, a symmetric matrix-vector product (`O(p²)`), kept in the
//! packed upper triangle so that it reads half the memory and vectorises; rarely (at
//! the end of learning and at each refresh), a Cholesky factorisation and an inverse
//! (`O(p³)`). The TEP reference method also needs a symmetric eigendecomposition
//! (cyclic Jacobi, accurate and simple at these sizes).
//!
//! Every loop runs in a fixed order, so that results are identical from run to run
//! (a restored model scores bit for bit as one that never stopped).

/// Offset of row `i` of a packed upper triangle of order `p` (row `i` holds the
/// entries `(i, i)…(i, p - 1)`).
pub(crate) fn packed_row(i: usize, p: usize) -> usize {
    i * p - i * i.saturating_sub(1) / 2
}

/// Length of a packed upper triangle of order `p`.
pub(crate) fn packed_len(p: usize) -> usize {
    p * (p + 1) / 2
}

/// Dot product with four independent accumulators, so that the compiler can keep them
/// in vector lanes (a single running sum is a dependency chain it must not reorder).
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0; 4];
    let mut chunks_a = a.chunks_exact(4);
    let mut chunks_b = b.chunks_exact(4);
    for (x, y) in (&mut chunks_a).zip(&mut chunks_b) {
        for k in 0..4 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut tail = 0.0;
    for (x, y) in chunks_a.remainder().iter().zip(chunks_b.remainder()) {
        tail += x * y;
    }
    (acc[0] + acc[2]) + (acc[1] + acc[3]) + tail
}

/// `y += alpha * x`.
pub(crate) fn axpy(alpha: f64, x: &[f64], y: &mut [f64]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += alpha * x;
    }
}

/// `y = A x` for a symmetric `A` stored as its packed upper triangle.
pub(crate) fn packed_matvec(a: &[f64], x: &[f64], y: &mut [f64]) {
    let p = x.len();
    y[..p].iter_mut().for_each(|v| *v = 0.0);
    let mut offset = 0;
    for i in 0..p {
        let row = &a[offset..offset + p - i];
        // The row's part right of the diagonal serves twice: as row i (a dot product)
        // and, by symmetry, as column i (an axpy into the later entries).
        y[i] += row[0] * x[i] + dot(&row[1..], &x[i + 1..]);
        axpy(x[i], &row[1..], &mut y[i + 1..p]);
        offset += p - i;
    }
}

/// Entry `(i, j)` of a packed upper triangle.
pub(crate) fn packed_get(a: &[f64], p: usize, i: usize, j: usize) -> f64 {
    let (i, j) = if i <= j { (i, j) } else { (j, i) };
    a[packed_row(i, p) + j - i]
}

/// The full (row-major) matrix of a packed upper triangle.
#[cfg(test)]
pub(crate) fn unpack(a: &[f64], p: usize) -> Vec<f64> {
    let mut full = vec![0.0; p * p];
    let mut offset = 0;
    for i in 0..p {
        for j in i..p {
            let v = a[offset + j - i];
            full[i * p + j] = v;
            full[j * p + i] = v;
        }
        offset += p - i;
    }
    full
}

/// The packed upper triangle of a full symmetric (row-major) matrix.
pub(crate) fn pack(full: &[f64], p: usize) -> Vec<f64> {
    let mut packed = Vec::with_capacity(packed_len(p));
    for i in 0..p {
        packed.extend_from_slice(&full[i * p + i..(i + 1) * p]);
    }
    packed
}

/// The lower Cholesky factor `L` (`A = L Lᵀ`, row-major, upper part zero) of a
/// symmetric positive definite matrix, or `None` when it is not numerically so.
pub(crate) fn cholesky(a: &[f64], p: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; p * p];
    for i in 0..p {
        for j in 0..=i {
            let s = a[i * p + j] - dot(&l[i * p..i * p + j], &l[j * p..j * p + j]);
            if i == j {
                if !(s > 0.0 && s.is_finite()) {
                    return None;
                }
                l[i * p + i] = s.sqrt();
            } else {
                l[i * p + j] = s / l[j * p + j];
            }
        }
    }
    Some(l)
}

/// The inverse of a symmetric positive definite matrix (row-major), through its
/// Cholesky factor: `A⁻¹ = L⁻ᵀ L⁻¹`.
pub(crate) fn inverse_spd(a: &[f64], p: usize) -> Option<Vec<f64>> {
    let l = cholesky(a, p)?;
    // M = L⁻¹, lower triangular, by forward substitution column by column; stored
    // transposed (row j of `mt` is column j of M) so the inner loops run on rows.
    let mut mt = vec![0.0; p * p];
    for j in 0..p {
        mt[j * p + j] = 1.0 / l[j * p + j];
        for i in j + 1..p {
            let s = dot(&l[i * p + j..i * p + i], &mt[j * p + j..j * p + i]);
            mt[j * p + i] = -s / l[i * p + i];
        }
    }
    // A⁻¹[i][j] = Σ_k M[k][i] M[k][j] = Σ_k mt[i][k] mt[j][k], over k ≥ max(i, j).
    let mut inverse = vec![0.0; p * p];
    for i in 0..p {
        for j in 0..=i {
            let v = dot(&mt[i * p + i..(i + 1) * p], &mt[j * p + i..(j + 1) * p]);
            inverse[i * p + j] = v;
            inverse[j * p + i] = v;
        }
    }
    Some(inverse)
}

/// Solves `L v = b` in place for a lower triangular `L` (row-major, order `m`).
pub(crate) fn solve_lower(l: &[f64], m: usize, b: &mut [f64]) {
    for i in 0..m {
        b[i] = (b[i] - dot(&l[i * m..i * m + i], &b[..i])) / l[i * m + i];
    }
}

/// Solves `Lᵀ v = b` in place for a lower triangular `L` (row-major, order `m`).
pub(crate) fn solve_lower_transposed(l: &[f64], m: usize, b: &mut [f64]) {
    for i in (0..m).rev() {
        let mut s = b[i];
        for k in i + 1..m {
            s -= l[k * m + i] * b[k];
        }
        b[i] = s / l[i * m + i];
    }
}

/// Eigenvalues (descending) and eigenvectors (the columns of a row-major matrix) of a
/// symmetric matrix, by cyclic Jacobi rotations until the off-diagonal part is
/// negligible.
pub(crate) fn symmetric_eigen(a: &[f64], p: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = a.to_vec();
    // The eigenvectors as rows, so that a rotation updates two contiguous rows.
    let mut vt = vec![0.0; p * p];
    for i in 0..p {
        vt[i * p + i] = 1.0;
    }
    for _sweep in 0..64 {
        let off: f64 = (0..p)
            .map(|i| {
                a[i * p + i + 1..(i + 1) * p]
                    .iter()
                    .map(|x| x * x)
                    .sum::<f64>()
            })
            .sum();
        let diagonal: f64 = (0..p).map(|i| a[i * p + i] * a[i * p + i]).sum();
        if off <= 1e-30 * diagonal || off == 0.0 {
            break;
        }
        for i in 0..p {
            for j in i + 1..p {
                let aij = a[i * p + j];
                if aij == 0.0 {
                    continue;
                }
                // The rotation that zeroes (i, j): tan of its angle is the smaller
                // root of t² + 2θt − 1 = 0.
                let theta = (a[j * p + j] - a[i * p + i]) / (2.0 * aij);
                let t = if theta == 0.0 {
                    1.0
                } else {
                    theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt())
                };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                // A ← Jᵀ A J: rows i and j first (contiguous), then, A being
                // symmetric, columns i and j are those rows, but for the 2 × 2 block.
                rotate_rows(&mut a, p, i, j, c, s);
                // The 2 × 2 block of Jᵀ A, before the columns are rotated too.
                let (aii, aij, aji, ajj) = (a[i * p + i], a[i * p + j], a[j * p + i], a[j * p + j]);
                for k in (0..p).filter(|&k| k != i && k != j) {
                    a[k * p + i] = a[i * p + k];
                    a[k * p + j] = a[j * p + k];
                }
                a[i * p + i] = c * aii - s * aij;
                a[j * p + j] = s * aji + c * ajj;
                a[i * p + j] = 0.0;
                a[j * p + i] = 0.0;
                rotate_rows(&mut vt, p, i, j, c, s);
            }
        }
    }
    let mut order: Vec<usize> = (0..p).collect();
    order.sort_by(|&x, &y| a[y * p + y].total_cmp(&a[x * p + x]));
    let values = order.iter().map(|&i| a[i * p + i]).collect();
    let mut vectors = vec![0.0; p * p];
    for (column, &i) in order.iter().enumerate() {
        for k in 0..p {
            vectors[k * p + column] = vt[i * p + k];
        }
    }
    (values, vectors)
}

/// Rows `i < j` of a row-major matrix of order `p` ← their rotation by (`c`, `s`):
/// `(rᵢ, rⱼ) ← (c rᵢ − s rⱼ, s rᵢ + c rⱼ)`.
fn rotate_rows(m: &mut [f64], p: usize, i: usize, j: usize, c: f64, s: f64) {
    let (head, tail) = m.split_at_mut(j * p);
    let row_i = &mut head[i * p..(i + 1) * p];
    let row_j = &mut tail[..p];
    for (x, y) in row_i.iter_mut().zip(row_j.iter_mut()) {
        let (xi, yj) = (*x, *y);
        *x = c * xi - s * yj;
        *y = s * xi + c * yj;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reproducible symmetric positive definite matrix: B Bᵀ + I.
    fn spd(p: usize) -> Vec<f64> {
        let b: Vec<f64> = (0..p * p)
            .map(|k| ((k * 7919 % 101) as f64 / 101.0) - 0.5)
            .collect();
        let mut a = vec![0.0; p * p];
        for i in 0..p {
            for j in 0..p {
                a[i * p + j] = (0..p).map(|k| b[i * p + k] * b[j * p + k]).sum::<f64>()
                    + if i == j { 1.0 } else { 0.0 };
            }
        }
        a
    }

    #[test]
    fn packed_rows_and_products_match_the_full_matrix() {
        let p = 7;
        let a = spd(p);
        let packed = pack(&a, p);
        assert_eq!(packed.len(), packed_len(p));
        assert_eq!(unpack(&packed, p), a);
        for i in 0..p {
            assert_eq!(packed[packed_row(i, p)], a[i * p + i]);
            for j in 0..p {
                assert_eq!(packed_get(&packed, p, i, j), a[i * p + j]);
            }
        }
        let x: Vec<f64> = (0..p).map(|i| i as f64 - 2.5).collect();
        let mut y = vec![0.0; p];
        packed_matvec(&packed, &x, &mut y);
        for i in 0..p {
            let expected: f64 = (0..p).map(|j| a[i * p + j] * x[j]).sum();
            assert!((y[i] - expected).abs() < 1e-12, "{i}: {} {expected}", y[i]);
        }
    }

    #[test]
    fn the_inverse_and_the_solver_invert() {
        let p = 9;
        let a = spd(p);
        let inverse = inverse_spd(&a, p).unwrap();
        for i in 0..p {
            for j in 0..p {
                let v: f64 = (0..p).map(|k| a[i * p + k] * inverse[k * p + j]).sum();
                let expected = if i == j { 1.0 } else { 0.0 };
                assert!((v - expected).abs() < 1e-10, "({i}, {j}): {v}");
            }
        }
        let mut b: Vec<f64> = (0..p).map(|i| i as f64).collect();
        let original = b.clone();
        let l = cholesky(&a, p).unwrap();
        solve_lower(&l, p, &mut b);
        solve_lower_transposed(&l, p, &mut b);
        for i in 0..p {
            let v: f64 = (0..p).map(|k| a[i * p + k] * b[k]).sum();
            assert!((v - original[i]).abs() < 1e-10);
        }
        let mut singular = a.clone();
        singular[0] = -1.0;
        assert!(cholesky(&singular, p).is_none());
    }

    #[test]
    fn jacobi_finds_eigenpairs() {
        let p = 8;
        let a = spd(p);
        let (values, vectors) = symmetric_eigen(&a, p);
        assert!(values.windows(2).all(|w| w[0] >= w[1]));
        for c in 0..p {
            for i in 0..p {
                let av: f64 = (0..p).map(|k| a[i * p + k] * vectors[k * p + c]).sum();
                assert!((av - values[c] * vectors[i * p + c]).abs() < 1e-9);
            }
        }
    }
}
