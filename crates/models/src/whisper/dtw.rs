//! The numerics of word alignment, as OpenAI Whisper's `timing.py`: standardise the
//! alignment heads' cross-attention weights, smooth them with a median filter, and find the
//! monotonic token ↔ frame path through them with dynamic time warping.
//!
//! Matrices are row-major `Vec<f32>` with the row count and width beside them: they are at most
//! a few hundred tokens by 1500 frames, and plain loops keep the exact tie rules of the
//! reference implementation.

/// Median filter width over frames (OpenAI's `medfilt_width`).
pub(crate) const MEDIAN_FILTER_WIDTH: usize = 7;

/// Each column of the `(rows, cols)` matrix `weights` standardised over its rows:
/// `(w − mean) / std`, population std, as OpenAI's `std_mean(dim=-2, unbiased=False)` over
/// the token axis. A column without spread is left centred.
pub(crate) fn standardise_columns(weights: &mut [f32], rows: usize, cols: usize) {
    if rows == 0 {
        return;
    }
    for col in 0..cols {
        let mean = (0..rows).map(|row| weights[row * cols + col]).sum::<f32>() / rows as f32;
        let variance = (0..rows)
            .map(|row| (weights[row * cols + col] - mean).powi(2))
            .sum::<f32>()
            / rows as f32;
        let std = variance.sqrt();
        for row in 0..rows {
            let value = &mut weights[row * cols + col];
            *value -= mean;
            if std > 0.0 {
                *value /= std;
            }
        }
    }
}

/// Median over a sliding window of `width` (odd) along each row of `(rows, cols)`, with the
/// row reflected at its ends (PyTorch's `reflect` padding); rows no longer than half the width
/// are returned unchanged, as OpenAI's `median_filter` does.
pub(crate) fn median_filter_rows(
    matrix: &[f32],
    rows: usize,
    cols: usize,
    width: usize,
) -> Vec<f32> {
    let half = width / 2;
    if cols <= half {
        return matrix.to_vec();
    }
    let mut out = Vec::with_capacity(rows * cols);
    let mut window = Vec::with_capacity(width);
    for row in matrix.chunks_exact(cols).take(rows) {
        let reflect = |index: isize| -> f32 {
            let last = cols as isize - 1;
            let mirrored = if index < 0 {
                -index
            } else if index > last {
                2 * last - index
            } else {
                index
            };
            row[mirrored.clamp(0, last) as usize]
        };
        for col in 0..cols as isize {
            window.clear();
            window.extend((col - half as isize..=col + half as isize).map(reflect));
            window.sort_by(f32::total_cmp);
            out.push(window[half]);
        }
    }
    out
}

/// The cheapest monotonic path through the cost matrix `(rows, cols)` from `(0, 0)` to
/// `(rows − 1, cols − 1)`, moving down, right or diagonally; returns `(row, col)` pairs in
/// order. Ties go right, as OpenAI's `dtw_cpu` (strict `<` on the diagonal and down moves).
pub(crate) fn dtw(cost: &[f32], rows: usize, cols: usize) -> Vec<(usize, usize)> {
    if rows == 0 || cols == 0 {
        return Vec::new();
    }
    let width = cols + 1;
    let mut total = vec![f32::INFINITY; (rows + 1) * width];
    // 0 diagonal, 1 down (next row), 2 right (next column).
    let mut trace = vec![2u8; (rows + 1) * width];
    total[0] = 0.0;
    for j in 1..=cols {
        for i in 1..=rows {
            let diagonal = total[(i - 1) * width + j - 1];
            let down = total[(i - 1) * width + j];
            let right = total[i * width + j - 1];
            let (best, step) = if diagonal < down && diagonal < right {
                (diagonal, 0)
            } else if down < diagonal && down < right {
                (down, 1)
            } else {
                (right, 2)
            };
            total[i * width + j] = cost[(i - 1) * cols + j - 1] + best;
            trace[i * width + j] = step;
        }
    }
    for i in 1..=rows {
        trace[i * width] = 1;
    }
    let (mut i, mut j) = (rows, cols);
    let mut path = Vec::with_capacity(rows + cols);
    while i > 0 && j > 0 {
        path.push((i - 1, j - 1));
        match trace[i * width + j] {
            0 => {
                i -= 1;
                j -= 1;
            }
            1 => i -= 1,
            _ => j -= 1,
        }
    }
    path.reverse();
    path
}

/// For each row of a DTW path over `rows` rows, the column where the path first reaches it
/// (OpenAI's `jump_times` before scaling to seconds).
pub(crate) fn first_columns(path: &[(usize, usize)], rows: usize) -> Vec<usize> {
    let mut first = vec![None; rows];
    for &(row, col) in path {
        if let Some(slot) = first.get_mut(row)
            && slot.is_none()
        {
            *slot = Some(col);
        }
    }
    // A path visits every row, so the fallback only guards malformed input.
    let mut last = 0;
    first
        .into_iter()
        .map(|col| {
            last = col.unwrap_or(last);
            last
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standardise_gives_zero_mean_unit_std_per_column() {
        let mut m = vec![1.0, 10.0, 3.0, 10.0];
        standardise_columns(&mut m, 2, 2);
        assert_eq!(m, vec![-1.0, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn median_filter_removes_spikes_and_reflects_edges() {
        let row = [0.0, 0.0, 9.0, 0.0, 0.0, 5.0, 5.0, 5.0];
        let out = median_filter_rows(&row, 1, 8, 3);
        assert_eq!(out, vec![0.0, 0.0, 0.0, 0.0, 0.0, 5.0, 5.0, 5.0]);
        // Reflect: [a b c d] padded by 2 is [c b a b c d c b].
        let out = median_filter_rows(&[1.0, 4.0, 2.0, 3.0], 1, 4, 5);
        // [1 4 2 3] → [2 4 1 4 2 3 2 4], windows of 5.
        assert_eq!(out, vec![2.0, 3.0, 2.0, 3.0]);
        // Too short to filter.
        assert_eq!(median_filter_rows(&[3.0, 1.0], 1, 2, 7), vec![3.0, 1.0]);
    }

    #[test]
    fn dtw_follows_the_cheap_cells() {
        // Row 0 cheap in columns 0-1, row 1 cheap in columns 2-4.
        #[rustfmt::skip]
        let cost = [
            0.0, 0.0, 9.0, 9.0, 9.0,
            9.0, 9.0, 0.0, 0.0, 0.0,
        ];
        let path = dtw(&cost, 2, 5);
        assert_eq!(path, vec![(0, 0), (0, 1), (1, 2), (1, 3), (1, 4)]);
        assert_eq!(first_columns(&path, 2), vec![0, 2]);
    }

    #[test]
    fn dtw_on_a_square_uniform_matrix_prefers_the_diagonal_only_when_strictly_cheaper() {
        let path = dtw(&[0.0; 9], 3, 3);
        assert_eq!(path.first(), Some(&(0, 0)));
        assert_eq!(path.last(), Some(&(2, 2)));
        assert!(
            path.windows(2)
                .all(|w| w[1].0 >= w[0].0 && w[1].1 >= w[0].1)
        );
    }
}
