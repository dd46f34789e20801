//! Int8 matrix products for the linear layers, with AVX-512 VNNI (`vpdpbusd`).
//!
//! CTranslate2's int8 mode, which faster-whisper runs on CPUs, is what makes it fast: weights
//! are int8 with one scale per output channel, activations are quantised per row as they
//! arrive, and the products are exact integer dot products. Here the same scheme:
//! - weights `W (out, in)`: `q = round(w / s_j)`, `s_j = max|w_j| / 127`, packed at load into
//!   panels of 16 output columns × 4 inputs, the layout `vpdpbusd` consumes (each 32-bit lane
//!   adds four u8 × i8 products);
//! - activations `x (rows, in)`: `a = round(x / t_i) + 128` as u8 (`vpdpbusd` wants one
//!   unsigned operand), `t_i = max|x_i| / 127`; the `+128` is removed afterwards with each
//!   column's weight sum, so `y_ij = (Σ a·q − 128·Σ q) · t_i · s_j + b_j`.
//!
//! The measured cost of this on a Whisper encoder is about a quarter of `gemm`'s f32 (see
//! `PERFORMANCE.md`), and decoder steps read a quarter of the f32 bytes. The kernel runs only
//! where the CPU has AVX-512 F/BW/VNNI ([`Int8Matrix::supported`]); elsewhere the caller keeps
//! its f32 path. A portable implementation of the same integer arithmetic
//! ([`Int8Matrix::matmul_portable`]) is the reference the SIMD kernel must match exactly.
//!
//! This module is the one place in the crate with `unsafe`: the kernel is a
//! `#[target_feature]` function (callable only after the run-time check) and it loads
//! 64-byte vectors through pointers into slices whose lengths it asserts first.
#![allow(unsafe_code)]

use rayon::prelude::*;

/// Output columns per panel: one 512-bit vector of 32-bit accumulators.
const PANEL: usize = 16;
/// Inputs per accumulator lane and `vpdpbusd`.
const QUAD: usize = 4;
/// Bytes of one panel for one quad of inputs (16 columns × 4 inputs).
const PANEL_QUAD_BYTES: usize = PANEL * QUAD;
/// Rows of a register tile.
const TILE_ROWS: usize = 8;
/// Panels of a register tile: 8 × 3 accumulators plus 3 weight vectors and a broadcast fit
/// the 32 vector registers.
const TILE_PANELS: usize = 3;
/// At least this many rows are split over threads by rows; fewer (decoder steps) by columns.
const ROW_SPLIT_MIN: usize = 4 * TILE_ROWS;
/// The quantised-activation offset that makes them unsigned.
const ACTIVATION_OFFSET: i32 = 128;

/// A weight matrix `(out, in)` quantised to int8 per output channel, packed for the kernel.
pub(crate) struct Int8Matrix {
    out: usize,
    inner: usize,
    /// `inner` rounded up to a multiple of [`QUAD`] (the padding holds zero weights).
    quads: usize,
    panels: usize,
    /// `panels × quads × 64` bytes: panel `p`, quad `k`, column lane `l`, input `b` at
    /// `((p·quads + k)·16 + l)·4 + b`.
    packed: Vec<i8>,
    /// Per output column (padded to whole panels): `s_j`.
    scales: Vec<f32>,
    /// Per output column: `128·Σ_k q_jk`, subtracted from the unsigned dot products.
    offsets: Vec<i32>,
}

/// Activation rows quantised to u8 (offset 128), each `quads·4` bytes, with their scales.
struct QuantizedRows {
    bytes: Vec<u8>,
    scales: Vec<f32>,
    stride: usize,
}

impl Int8Matrix {
    /// Whether this CPU runs the int8 kernel.
    pub fn supported() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512vnni")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// Quantises a row-major `(out, inner)` weight matrix.
    pub fn quantize(weights: &[f32], out: usize, inner: usize) -> Int8Matrix {
        assert_eq!(
            weights.len(),
            out * inner,
            "weights are not {out} × {inner}"
        );
        Int8Matrix::quantize_rows(out, inner, |column| {
            weights[column * inner..(column + 1) * inner].to_vec()
        })
    }

    /// Quantises an `(out, inner)` weight matrix given one output channel's `inner` weights at
    /// a time, so a large matrix stored in another format (the f16 vocabulary) is never
    /// widened to f32 whole.
    ///
    /// # Panics
    /// When a row is not `inner` long.
    pub fn quantize_rows(
        out: usize,
        inner: usize,
        mut row_of: impl FnMut(usize) -> Vec<f32>,
    ) -> Int8Matrix {
        let quads = inner.div_ceil(QUAD);
        let panels = out.div_ceil(PANEL);
        let mut packed = vec![0i8; panels * quads * PANEL_QUAD_BYTES];
        let mut scales = vec![0f32; panels * PANEL];
        let mut offsets = vec![0i32; panels * PANEL];
        for column in 0..out {
            let row = row_of(column);
            assert_eq!(row.len(), inner, "row {column} is not {inner} wide");
            let max = row.iter().fold(0f32, |m, &w| m.max(w.abs()));
            let scale = max / 127.0;
            let inverse = if max > 0.0 { 127.0 / max } else { 0.0 };
            let (panel, lane) = (column / PANEL, column % PANEL);
            let mut sum = 0i32;
            for (k, &w) in row.iter().enumerate() {
                let q = round_to_i32(w * inverse).clamp(-127, 127) as i8;
                sum += i32::from(q);
                let (quad, byte) = (k / QUAD, k % QUAD);
                packed[((panel * quads + quad) * PANEL + lane) * QUAD + byte] = q;
            }
            scales[column] = scale;
            offsets[column] = ACTIVATION_OFFSET * sum;
        }
        Int8Matrix {
            out,
            inner,
            quads,
            panels,
            packed,
            scales,
            offsets,
        }
    }

    /// Output width.
    pub fn out(&self) -> usize {
        self.out
    }

    /// `y = x·Wᵀ (+ bias)` for `x` row-major `(rows, inner)`; `y` is `(rows, out)`.
    ///
    /// On a CPU without the kernel's instructions this is the portable arithmetic, correct
    /// but far slower than f32 `gemm`: models load int8 layers only where
    /// [`Int8Matrix::supported`].
    ///
    /// # Panics
    /// When `x` is not a whole number of rows or `bias` is not `out` wide.
    pub fn matmul(&self, x: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
        let kernel = if Int8Matrix::supported() {
            Kernel::Vnni
        } else {
            Kernel::Portable
        };
        self.product(x, bias, kernel)
    }

    /// The same integer arithmetic as [`Int8Matrix::matmul`] in plain Rust, on any CPU.
    #[cfg(test)]
    pub fn matmul_portable(&self, x: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
        self.product(x, bias, Kernel::Portable)
    }

    fn product(&self, x: &[f32], bias: Option<&[f32]>, kernel: Kernel) -> Vec<f32> {
        let inner = self.inner.max(1);
        assert!(
            x.len().is_multiple_of(inner),
            "input is not rows of {inner} values"
        );
        if let Some(bias) = bias {
            assert_eq!(bias.len(), self.out, "bias width");
        }
        let rows = x.len() / inner;
        let activations = QuantizedRows::new(x, rows, self.inner, self.quads);
        let mut y = vec![0f32; rows * self.out];
        if rows >= ROW_SPLIT_MIN {
            // Row blocks: each task owns whole output rows, weights stay in the shared cache.
            let block_rows =
                TILE_ROWS * (rows / (TILE_ROWS * 4 * rayon::current_num_threads())).max(1);
            y.par_chunks_mut(block_rows * self.out)
                .enumerate()
                .for_each(|(block, y)| {
                    let first = block * block_rows;
                    let count = y.len() / self.out;
                    self.rows_times_panels(
                        &activations,
                        first,
                        count,
                        0,
                        self.panels,
                        y,
                        bias,
                        kernel,
                    );
                });
        } else {
            // Few rows (decoder steps): split the columns, each task reading its own weights.
            let panels_per_task = TILE_PANELS
                * (self.panels / (TILE_PANELS * 4 * rayon::current_num_threads())).max(1);
            let parts: Vec<(usize, Vec<f32>)> = (0..self.panels)
                .step_by(panels_per_task)
                .collect::<Vec<_>>()
                .into_par_iter()
                .map(|first_panel| {
                    let panels = panels_per_task.min(self.panels - first_panel);
                    let width = self.columns_of(first_panel, panels);
                    let mut part = vec![0f32; rows * width];
                    self.rows_times_panels(
                        &activations,
                        0,
                        rows,
                        first_panel,
                        panels,
                        &mut part,
                        bias,
                        kernel,
                    );
                    (first_panel, part)
                })
                .collect();
            for (first_panel, part) in parts {
                let start = first_panel * PANEL;
                let width = part.len() / rows.max(1);
                for (row, values) in part.chunks_exact(width.max(1)).enumerate() {
                    y[row * self.out + start..row * self.out + start + width]
                        .copy_from_slice(values);
                }
            }
        }
        y
    }

    /// Real (unpadded) output columns in `panels` panels from `first_panel`.
    fn columns_of(&self, first_panel: usize, panels: usize) -> usize {
        ((first_panel + panels) * PANEL).min(self.out) - first_panel * PANEL
    }

    /// Rows `first..first + count` × panels `first_panel..+panels` into `y`, which holds those
    /// rows with exactly the columns of those panels (`columns_of` wide).
    #[allow(clippy::too_many_arguments)]
    fn rows_times_panels(
        &self,
        activations: &QuantizedRows,
        first: usize,
        count: usize,
        first_panel: usize,
        panels: usize,
        y: &mut [f32],
        bias: Option<&[f32]>,
        kernel: Kernel,
    ) {
        let width = self.columns_of(first_panel, panels);
        let panel_stride = self.quads * PANEL_QUAD_BYTES;
        let mut sums = [0i32; TILE_ROWS * TILE_PANELS * PANEL];
        for row0 in (0..count).step_by(TILE_ROWS) {
            let tile_rows = TILE_ROWS.min(count - row0);
            let a = &activations.bytes[(first + row0) * activations.stride
                ..(first + row0 + tile_rows) * activations.stride];
            for p0 in (0..panels).step_by(TILE_PANELS) {
                let tile_panels = TILE_PANELS.min(panels - p0);
                let panel = first_panel + p0;
                let w = &self.packed[panel * panel_stride..(panel + tile_panels) * panel_stride];
                let tile_width = tile_panels * PANEL;
                let sums = &mut sums[..tile_rows * tile_width];
                let operands = TileOperands {
                    a,
                    stride: activations.stride,
                    w,
                    panel_stride,
                    quads: self.quads,
                };
                kernel.tile(&operands, tile_rows, tile_panels, sums);
                // Dequantise the real columns of this tile.
                let column0 = panel * PANEL;
                let real = (column0 + tile_width).min(self.out) - column0;
                for r in 0..tile_rows {
                    let scale = activations.scales[first + row0 + r];
                    let out_row = &mut y[(row0 + r) * width + p0 * PANEL..][..real];
                    let acc = &sums[r * tile_width..r * tile_width + real];
                    let columns = column0..column0 + real;
                    for ((value, &acc), j) in out_row.iter_mut().zip(acc).zip(columns) {
                        let b = bias.map_or(0.0, |b| b[j]);
                        *value = (acc - self.offsets[j]) as f32 * (scale * self.scales[j]) + b;
                    }
                }
            }
        }
    }
}

impl QuantizedRows {
    fn new(x: &[f32], rows: usize, inner: usize, quads: usize) -> QuantizedRows {
        let stride = quads * QUAD;
        let mut bytes = vec![ACTIVATION_OFFSET as u8; rows * stride];
        let mut scales = vec![0f32; rows];
        for (row, (values, out)) in x
            .chunks_exact(inner.max(1))
            .zip(bytes.chunks_exact_mut(stride.max(1)))
            .enumerate()
        {
            let max = values.iter().fold(0f32, |m, &v| m.max(v.abs()));
            if max == 0.0 || !max.is_finite() {
                continue;
            }
            scales[row] = max / 127.0;
            let inverse = 127.0 / max;
            for (byte, &v) in out.iter_mut().zip(values) {
                *byte = (round_to_i32(v * inverse).clamp(-127, 127) + ACTIVATION_OFFSET) as u8;
            }
        }
        QuantizedRows {
            bytes,
            scales,
            stride,
        }
    }
}

/// `x` rounded half away from zero, as `f32::round`, but with a truncating conversion that
/// vectorises on baseline x86-64 (`round` is a libm call without SSE4.1: 4 % of a run).
#[inline(always)]
fn round_to_i32(x: f32) -> i32 {
    (x + 0.5f32.copysign(x)) as i32
}

/// Which implementation computes a tile's integer sums.
#[derive(Clone, Copy)]
enum Kernel {
    Vnni,
    Portable,
}

/// What a tile multiplies: activation rows `stride` bytes apart in `a`, weight panels
/// `panel_stride` bytes apart in `w`, over `quads` quads of inputs.
struct TileOperands<'a> {
    a: &'a [u8],
    stride: usize,
    w: &'a [i8],
    panel_stride: usize,
    quads: usize,
}

impl Kernel {
    /// `sums[r·16·panels + p·16 + l] = Σ_k a[r][k] · w[p][k][l]` for the first `rows`
    /// activation rows and `panels` weight panels of `operands`.
    fn tile(self, operands: &TileOperands<'_>, rows: usize, panels: usize, sums: &mut [i32]) {
        let TileOperands {
            a,
            stride,
            w,
            panel_stride,
            quads,
        } = *operands;
        assert!(a.len() >= rows * stride && stride >= quads * QUAD);
        assert!(w.len() >= panels * panel_stride && panel_stride >= quads * PANEL_QUAD_BYTES);
        assert!(sums.len() >= rows * panels * PANEL);
        match self {
            Kernel::Portable => portable_tile(operands, rows, panels, sums),
            #[cfg(target_arch = "x86_64")]
            Kernel::Vnni => {
                assert!(Int8Matrix::supported());
                // SAFETY: the CPU features were detected just above, and the slice lengths
                // asserted cover every load of the tile.
                unsafe { vnni::tile(operands, rows, panels, sums) }
            }
            #[cfg(not(target_arch = "x86_64"))]
            Kernel::Vnni => unreachable!("the int8 kernel is x86-64 only"),
        }
    }
}

fn portable_tile(operands: &TileOperands<'_>, rows: usize, panels: usize, sums: &mut [i32]) {
    let TileOperands {
        a,
        stride,
        w,
        panel_stride,
        quads,
    } = *operands;
    let width = panels * PANEL;
    for r in 0..rows {
        for p in 0..panels {
            for lane in 0..PANEL {
                let mut sum = 0i32;
                for quad in 0..quads {
                    for byte in 0..QUAD {
                        let activation = i32::from(a[r * stride + quad * QUAD + byte]);
                        let weight =
                            i32::from(w[p * panel_stride + (quad * PANEL + lane) * QUAD + byte]);
                        sum += activation * weight;
                    }
                }
                sums[r * width + p * PANEL + lane] = sum;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod vnni {
    use std::arch::x86_64::{
        __m512i, _mm512_dpbusd_epi32, _mm512_loadu_si512, _mm512_set1_epi32, _mm512_setzero_si512,
        _mm512_storeu_si512,
    };

    use super::{PANEL, PANEL_QUAD_BYTES, QUAD, TILE_PANELS, TILE_ROWS, TileOperands};

    /// Dispatches a tile to the register-blocked kernel of its exact size.
    ///
    /// # Safety
    /// The CPU must have AVX-512 F, BW and VNNI, and the slices must hold what
    /// [`super::Kernel::tile`] asserts.
    pub(super) unsafe fn tile(
        operands: &TileOperands<'_>,
        rows: usize,
        panels: usize,
        sums: &mut [i32],
    ) {
        macro_rules! by_size {
            ($($r:literal),*) => {
                match (rows, panels) {
                    $(
                        ($r, 1) => unsafe { block::<$r, 1>(operands, sums) },
                        ($r, 2) => unsafe { block::<$r, 2>(operands, sums) },
                        ($r, 3) => unsafe { block::<$r, 3>(operands, sums) },
                    )*
                    _ => unreachable!("tiles are at most {TILE_ROWS} × {TILE_PANELS}"),
                }
            };
        }
        by_size!(1, 2, 3, 4, 5, 6, 7, 8)
    }

    /// `R` rows × `P` panels, every accumulator in a register for the whole inner loop.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn block<const R: usize, const P: usize>(operands: &TileOperands<'_>, sums: &mut [i32]) {
        let TileOperands {
            a,
            stride,
            w,
            panel_stride,
            quads,
        } = *operands;
        let mut acc = [[_mm512_setzero_si512(); P]; R];
        let a = a.as_ptr();
        let w = w.as_ptr();
        for quad in 0..quads {
            let mut weights = [_mm512_setzero_si512(); P];
            for (p, vector) in weights.iter_mut().enumerate() {
                // SAFETY: panel p's quad lies inside `w` (asserted by the caller).
                *vector = unsafe {
                    _mm512_loadu_si512(
                        w.add(p * panel_stride + quad * PANEL_QUAD_BYTES)
                            .cast::<__m512i>(),
                    )
                };
            }
            for (r, row) in acc.iter_mut().enumerate() {
                // SAFETY: row r's quad lies inside `a` (asserted by the caller).
                let four = unsafe {
                    a.add(r * stride + quad * QUAD)
                        .cast::<i32>()
                        .read_unaligned()
                };
                let broadcast = _mm512_set1_epi32(four);
                for (sum, &weight) in row.iter_mut().zip(&weights) {
                    *sum = _mm512_dpbusd_epi32(*sum, broadcast, weight);
                }
            }
        }
        let out = sums.as_mut_ptr();
        for (r, row) in acc.iter().enumerate() {
            for (p, &sum) in row.iter().enumerate() {
                // SAFETY: `sums` holds R × P × 16 values (asserted by the caller).
                unsafe { _mm512_storeu_si512(out.add((r * P + p) * PANEL).cast::<__m512i>(), sum) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in `[-1, 1)` with a few outliers, like real activations.
    fn values(count: usize, seed: u64) -> Vec<f32> {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..count)
            .map(|i| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let unit = (state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0;
                if i % 97 == 0 { unit * 6.0 } else { unit }
            })
            .collect()
    }

    fn f32_product(x: &[f32], w: &[f32], out: usize, inner: usize, bias: &[f32]) -> Vec<f32> {
        let rows = x.len() / inner;
        let mut y = vec![0f32; rows * out];
        for r in 0..rows {
            for j in 0..out {
                let dot: f64 = (0..inner)
                    .map(|k| f64::from(x[r * inner + k]) * f64::from(w[j * inner + k]))
                    .sum();
                y[r * out + j] = dot as f32 + bias[j];
            }
        }
        y
    }

    /// Relative error of `got` against `want`, as ‖got − want‖ / ‖want‖.
    fn relative_error(got: &[f32], want: &[f32]) -> f64 {
        let diff: f64 = got
            .iter()
            .zip(want)
            .map(|(g, w)| f64::from(g - w).powi(2))
            .sum();
        let norm: f64 = want.iter().map(|w| f64::from(*w).powi(2)).sum();
        (diff / norm).sqrt()
    }

    /// Shapes that exercise every tile remainder: rows not a multiple of 8, columns not a
    /// multiple of 16 or 48, inputs not a multiple of 4, and both threading splits.
    const SHAPES: [(usize, usize, usize); 5] = [
        (1, 37, 21),
        (5, 100, 64),
        (9, 48, 7),
        (40, 53, 130),
        (70, 16, 512),
    ];

    #[test]
    fn portable_int8_is_close_to_f32() {
        for (rows, out, inner) in SHAPES {
            let w = values(out * inner, 1);
            let x = values(rows * inner, 2);
            let bias = values(out, 3);
            let q = Int8Matrix::quantize(&w, out, inner);
            let got = q.matmul_portable(&x, Some(&bias));
            let want = f32_product(&x, &w, out, inner, &bias);
            let error = relative_error(&got, &want);
            assert!(error < 0.03, "{rows}×{out}×{inner}: relative error {error}");
        }
    }

    #[test]
    fn vnni_kernel_matches_the_portable_arithmetic_exactly() {
        if !Int8Matrix::supported() {
            // Nothing to compare on this CPU: the f32 path is used instead.
            return;
        }
        for (rows, out, inner) in SHAPES {
            let w = values(out * inner, 4);
            let x = values(rows * inner, 5);
            let bias = values(out, 6);
            let q = Int8Matrix::quantize(&w, out, inner);
            assert_eq!(
                q.matmul(&x, Some(&bias)),
                q.matmul_portable(&x, Some(&bias)),
                "{rows}×{out}×{inner}"
            );
        }
    }

    #[test]
    fn zero_rows_give_the_bias() {
        let q = Int8Matrix::quantize(&values(3 * 8, 7), 3, 8);
        let bias = [1.0, -2.0, 0.5];
        assert_eq!(
            q.matmul_portable(&[0.0; 16], Some(&bias)),
            [1.0, -2.0, 0.5, 1.0, -2.0, 0.5]
        );
    }
}
