//! Spectral clustering of speaker embeddings, after Wang et al. 2018 ("Speaker Diarization with
//! LSTM", made for GE2E d-vectors). Pairwise cosine similarity says little on its own: one voice
//! can be less similar to itself across a recording (0.6) than two different voices are to each
//! other (0.65). What separates voices is *who each window's nearest neighbours are*, so the
//! affinity is refined before clustering:
//!
//! 1. the diagonal is set to each row's largest off-diagonal value (it carries no information);
//! 2. Gaussian blur along time ([`BLUR_SIGMA`] windows), since neighbouring windows are
//!    usually one speaker: it smooths over single misjudged windows;
//! 3. row-wise thresholding: each row keeps what is within [`ROW_KEEP`] of its maximum and
//!    shrinks the rest by [`SOFT_MULTIPLIER`], so every window keeps only its close neighbours;
//! 4. symmetrisation (elementwise max) and diffusion (`Y·Yᵀ`): two windows are close when they
//!    share close neighbours;
//! 5. symmetric degree normalisation `D^-½·A·D^-½` (Ng–Jordan–Weiss; it keeps the matrix
//!    symmetric for a symmetric eigensolver, where Wang et al. normalise rows by their maximum).
//!
//! The number of speakers is where the eigenvalues of the normalised affinity drop most (the
//! largest eigengap, within the bounds asked for), and the windows are grouped by k-means on
//! the rows of the leading eigenvectors.

use nalgebra::{DMatrix, SymmetricEigen};

/// Standard deviation, in windows, of the blur along time.
pub const BLUR_SIGMA: f64 = 1.0;
/// A row keeps the affinities of at least this fraction of its maximum.
pub const ROW_KEEP: f64 = 0.95;
/// Factor for the affinities a row does not keep (soft rather than zero, so the graph stays
/// connected and the eigensolver well conditioned).
pub const SOFT_MULTIPLIER: f64 = 0.01;
/// Most speakers the eigengap may choose when no upper bound is given.
pub const MAX_AUTO_SPEAKERS: usize = 8;
/// Lloyd iterations of k-means at most (it converges in a handful on spectral embeddings).
const KMEANS_ITERATIONS: usize = 100;

/// The refined, normalised affinity of unit-length `embeddings` (steps 1–5 above).
pub fn refined_affinity(embeddings: &[Vec<f32>]) -> DMatrix<f64> {
    let n = embeddings.len();
    let mut affinity = DMatrix::<f64>::from_fn(n, n, |i, j| {
        embeddings[i]
            .iter()
            .zip(&embeddings[j])
            .map(|(a, b)| f64::from(*a) * f64::from(*b))
            .sum()
    });
    for i in 0..n {
        let row_max = (0..n)
            .filter(|&j| j != i)
            .map(|j| affinity[(i, j)])
            .fold(f64::NEG_INFINITY, f64::max);
        affinity[(i, i)] = if row_max.is_finite() { row_max } else { 1.0 };
    }
    let mut affinity = gaussian_blur(&affinity, BLUR_SIGMA);
    for i in 0..n {
        let row_max = affinity.row(i).max();
        for j in 0..n {
            if affinity[(i, j)] < ROW_KEEP * row_max {
                affinity[(i, j)] *= SOFT_MULTIPLIER;
            }
        }
    }
    let symmetric = affinity.sup(&affinity.transpose());
    let diffused = &symmetric * symmetric.transpose();
    let scale: Vec<f64> = diffused
        .row_iter()
        .map(|row| 1.0 / row.sum().max(1e-12).sqrt())
        .collect();
    DMatrix::from_fn(n, n, |i, j| diffused[(i, j)] * scale[i] * scale[j])
}

/// Blurs `matrix` with a Gaussian of `sigma` cells along both axes (edges repeat the border, as
/// `scipy.ndimage.gaussian_filter` does with `mode="nearest"`; truncated at 4 σ).
fn gaussian_blur(matrix: &DMatrix<f64>, sigma: f64) -> DMatrix<f64> {
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a radius of a few cells"
    )]
    let radius = (4.0 * sigma).ceil() as usize;
    let weights: Vec<f64> = (0..=2 * radius)
        .map(|k| {
            let offset = k as f64 - radius as f64;
            (-offset * offset / (2.0 * sigma * sigma)).exp()
        })
        .collect();
    let total: f64 = weights.iter().sum();
    let weights: Vec<f64> = weights.iter().map(|w| w / total).collect();
    let (rows, cols) = matrix.shape();
    let along = |get: &dyn Fn(usize, usize) -> f64, i: usize, j: usize, len: usize| -> f64 {
        weights
            .iter()
            .enumerate()
            .map(|(k, w)| {
                let index = (j + k).saturating_sub(radius).min(len - 1);
                w * get(i, index)
            })
            .sum()
    };
    let horizontal = DMatrix::from_fn(rows, cols, |i, j| along(&|r, c| matrix[(r, c)], i, j, cols));
    DMatrix::from_fn(rows, cols, |i, j| {
        along(&|c, r| horizontal[(r, c)], j, i, rows)
    })
}

/// A cluster label per embedding (not renumbered), with a count within `min..=max` chosen by
/// the largest eigengap of the [`refined_affinity`].
pub fn spectral_cluster(embeddings: &[Vec<f32>], min: usize, max: usize) -> Vec<usize> {
    let n = embeddings.len();
    if n < 2 {
        return vec![0; n];
    }
    let eigen = SymmetricEigen::new(refined_affinity(embeddings));
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));
    let values: Vec<f64> = order.iter().map(|&i| eigen.eigenvalues[i]).collect();
    let k = eigengap_count(&values, min, max);
    let rows: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            let row: Vec<f64> = order[..k]
                .iter()
                .map(|&c| eigen.eigenvectors[(i, c)])
                .collect();
            let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
            row.iter().map(|v| v / norm).collect()
        })
        .collect();
    kmeans(&rows, k)
}

/// The count `k` in `min..=max` (and below the number of eigenvalues) after which the
/// descending `eigenvalues` drop most.
pub fn eigengap_count(eigenvalues: &[f64], min: usize, max: usize) -> usize {
    let top = max.min(eigenvalues.len().saturating_sub(1)).max(1);
    let bottom = min.clamp(1, top);
    (bottom..=top)
        .max_by(|&a, &b| {
            let gap = |k: usize| eigenvalues[k - 1] - eigenvalues[k];
            gap(a).total_cmp(&gap(b)).then(b.cmp(&a))
        })
        .unwrap_or(bottom)
}

/// k-means on `points` with deterministic farthest-first seeds (the point farthest from the
/// mean, then each time the point farthest from every seed so far).
pub fn kmeans(points: &[Vec<f64>], k: usize) -> Vec<usize> {
    let n = points.len();
    if n == 0 || k <= 1 {
        return vec![0; n];
    }
    let distance =
        |a: &[f64], b: &[f64]| -> f64 { a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum() };
    let dim = points[0].len();
    let mean: Vec<f64> = (0..dim)
        .map(|d| points.iter().map(|p| p[d]).sum::<f64>() / n as f64)
        .collect();
    let farthest_from = |centres: &[Vec<f64>]| -> usize {
        (0..n)
            .max_by(|&a, &b| {
                let nearest = |i: usize| {
                    centres
                        .iter()
                        .map(|c| distance(&points[i], c))
                        .fold(f64::INFINITY, f64::min)
                };
                nearest(a).total_cmp(&nearest(b)).then(b.cmp(&a))
            })
            .unwrap_or(0)
    };
    let mut centres = vec![points[farthest_from(std::slice::from_ref(&mean))].clone()];
    while centres.len() < k.min(n) {
        centres.push(points[farthest_from(&centres)].clone());
    }
    let mut labels = vec![usize::MAX; n];
    for _ in 0..KMEANS_ITERATIONS {
        let next: Vec<usize> = points
            .iter()
            .map(|p| {
                (0..centres.len())
                    .min_by(|&a, &b| distance(p, &centres[a]).total_cmp(&distance(p, &centres[b])))
                    .unwrap_or(0)
            })
            .collect();
        if next == labels {
            break;
        }
        labels = next;
        for (c, centre) in centres.iter_mut().enumerate() {
            let members: Vec<&Vec<f64>> = points
                .iter()
                .zip(&labels)
                .filter(|(_, l)| **l == c)
                .map(|(p, _)| p)
                .collect();
            if !members.is_empty() {
                for (d, value) in centre.iter_mut().enumerate() {
                    *value = members.iter().map(|p| p[d]).sum::<f64>() / members.len() as f64;
                }
            }
        }
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `count` unit vectors at `centre` (an axis), each tilted towards a noise axis of its own.
    fn voice(centre: usize, first: usize, count: usize) -> Vec<Vec<f32>> {
        (0..count)
            .map(|k| {
                let mut v = vec![0.0f32; 4 + 64];
                v[centre] = 1.0;
                v[4 + first + k] = 0.4;
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.iter().map(|x| x / norm).collect()
            })
            .collect()
    }

    #[test]
    fn refined_affinity_is_symmetric_with_a_block_per_voice() {
        let mut embeddings = voice(0, 0, 6);
        embeddings.extend(voice(1, 6, 6));
        let affinity = refined_affinity(&embeddings);
        assert!((&affinity - affinity.transpose()).amax() < 1e-12);
        let (within, across) = (affinity[(1, 4)], affinity[(1, 9)]);
        assert!(within > 20.0 * across, "within {within}, across {across}");
    }

    #[test]
    fn the_largest_eigengap_counts_within_bounds() {
        let values = [1.0, 0.98, 0.97, 0.3, 0.25, 0.2];
        assert_eq!(eigengap_count(&values, 1, 8), 3);
        assert_eq!(eigengap_count(&values, 4, 8), 4);
        assert_eq!(eigengap_count(&values, 1, 2), 1);
        assert_eq!(eigengap_count(&values, 2, 2), 2);
        assert_eq!(eigengap_count(&[1.0, 0.9], 1, 8), 1);
    }

    #[test]
    fn kmeans_finds_separated_groups() {
        let points: Vec<Vec<f64>> = [[0.0, 1.0], [0.1, 0.9], [1.0, 0.0], [0.9, 0.1], [0.05, 1.0]]
            .iter()
            .map(|p| p.to_vec())
            .collect();
        let labels = kmeans(&points, 2);
        assert_eq!(labels[0], labels[1]);
        assert_eq!(labels[0], labels[4]);
        assert_eq!(labels[2], labels[3]);
        assert_ne!(labels[0], labels[2]);
        assert_eq!(kmeans(&points, 1), vec![0; 5]);
    }

    #[test]
    fn spectral_clustering_counts_and_groups_voices() {
        let mut embeddings = voice(0, 0, 8);
        embeddings.extend(voice(1, 8, 8));
        embeddings.extend(voice(2, 16, 8));
        embeddings.extend(voice(0, 24, 8));
        let labels = spectral_cluster(&embeddings, 2, MAX_AUTO_SPEAKERS);
        for (start, same_as) in [(0, 0), (8, 8), (16, 16), (24, 0)] {
            assert!(
                labels[start..start + 8]
                    .iter()
                    .all(|&l| l == labels[same_as]),
                "{labels:?}"
            );
        }
        assert_ne!(labels[0], labels[8]);
        assert_ne!(labels[8], labels[16]);
        assert_ne!(labels[0], labels[16]);
        // An exact count is honoured.
        let two = spectral_cluster(&embeddings, 2, 2);
        assert_eq!(two.iter().max(), Some(&1));
    }
}
