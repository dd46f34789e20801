//! Matrix × vector with half-precision weights, for the decoder's one-token steps.
//!
//! A decoder step multiplies one activation row by every decoder weight (about 50 M values
//! for base, most of them the 51,865-row vocabulary projection), so it is bound by memory
//! traffic, not arithmetic; `gemm` at M = 1 reads f32 weights and is no faster than that
//! allows. The CTranslate2 files store these weights in f16, so keeping them in f16 halves the
//! bytes read per step without changing a single weight value; products and sums are f32.
//! The loop is branch-free (f16 → f32 by shift and multiply), vectorised by LLVM inside a
//! `pulp` AVX2 dispatch, and split over rows with rayon on the model's thread pool.

use candle_core::{DType, Tensor};
use pulp::{Simd, WithSimd};
use rayon::prelude::*;

/// Weights per parallel task.
const WEIGHTS_PER_TASK: usize = 256 * 1024;
/// Independent accumulator lanes, so the dot product vectorises without reassociation.
const LANES: usize = 16;

/// A row-major `(rows, cols)` matrix of f16 values (stored as their bit patterns).
pub(crate) struct HalfMatrix {
    rows: usize,
    cols: usize,
    bits: Vec<u16>,
}

impl HalfMatrix {
    /// Rounds a 2-D tensor to f16 (exact for weights that were stored as f16).
    pub fn from_tensor(tensor: &Tensor) -> candle_core::Result<HalfMatrix> {
        let (rows, cols) = tensor.dims2()?;
        let bits = tensor
            .to_dtype(DType::F32)?
            .flatten_all()?
            .to_vec1::<f32>()?
            .into_iter()
            .map(f32_to_half)
            .collect();
        Ok(HalfMatrix { rows, cols, bits })
    }

    /// A `(rows, cols)` matrix of f16 bit patterns, row-major.
    ///
    /// # Panics
    /// When `bits` is not `rows × cols` long.
    pub fn from_bits(rows: usize, cols: usize, bits: Vec<u16>) -> HalfMatrix {
        assert_eq!(bits.len(), rows * cols, "not a {rows} × {cols} matrix");
        HalfMatrix { rows, cols, bits }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Row `index` widened to f32.
    pub fn row(&self, index: usize) -> Vec<f32> {
        self.bits[index * self.cols..(index + 1) * self.cols]
            .iter()
            .map(|&h| half_to_f32(h))
            .collect()
    }

    /// `out[r] = Σ_c self[r, c] · x[c]` (+ `bias[r]` when given).
    pub fn matvec(&self, x: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
        let mut out = vec![0f32; self.rows];
        let rows_per_task = (WEIGHTS_PER_TASK / self.cols.max(1)).max(1);
        out.par_chunks_mut(rows_per_task)
            .enumerate()
            .for_each(|(task, out)| {
                let first = task * rows_per_task;
                let weights = &self.bits[first * self.cols..(first + out.len()) * self.cols];
                pulp::Arch::new().dispatch(Dots {
                    weights,
                    cols: self.cols,
                    x,
                    out,
                });
            });
        if let Some(bias) = bias {
            for (value, b) in out.iter_mut().zip(bias) {
                *value += b;
            }
        }
        out
    }
}

impl HalfMatrix {
    /// `out[i][r] = Σ_c self[r, c] · xs[i][c]` for several rows `xs` at once (each of length
    /// `cols`): each weight row is widened once and reused for every `x`, so `n` rows cost far
    /// less than `n` calls to [`HalfMatrix::matvec`], which would each read all the weights.
    pub fn matmul_rows(&self, xs: &[Vec<f32>]) -> Vec<Vec<f32>> {
        let n = xs.len();
        if n == 0 {
            return Vec::new();
        }
        // Row-major (rows, n): tasks own whole weight rows.
        let mut out_t = vec![0f32; self.rows * n];
        let rows_per_task = (WEIGHTS_PER_TASK / self.cols.max(1)).max(1);
        out_t
            .par_chunks_mut(rows_per_task * n)
            .enumerate()
            .for_each(|(task, out)| {
                let first = task * rows_per_task;
                let count = out.len() / n;
                let weights = &self.bits[first * self.cols..(first + count) * self.cols];
                pulp::Arch::new().dispatch(ManyDots {
                    weights,
                    cols: self.cols,
                    xs,
                    out,
                });
            });
        (0..n)
            .map(|i| (0..self.rows).map(|r| out_t[r * n + i]).collect())
            .collect()
    }
}

struct ManyDots<'a> {
    weights: &'a [u16],
    cols: usize,
    xs: &'a [Vec<f32>],
    out: &'a mut [f32],
}

impl WithSimd for ManyDots<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) {
        let mut widened = vec![0f32; self.cols];
        for (row, out) in self
            .weights
            .chunks_exact(self.cols)
            .zip(self.out.chunks_exact_mut(self.xs.len()))
        {
            for (wide, &half) in widened.iter_mut().zip(row) {
                *wide = half_to_f32(half);
            }
            for (value, x) in out.iter_mut().zip(self.xs) {
                *value = dot_f32(&widened, x);
            }
        }
    }
}

#[inline(always)]
fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; LANES];
    let mut a_chunks = a.chunks_exact(LANES);
    let mut b_chunks = b.chunks_exact(LANES);
    for (a, b) in (&mut a_chunks).zip(&mut b_chunks) {
        for ((lane, &a), &b) in lanes.iter_mut().zip(a).zip(b) {
            *lane += a * b;
        }
    }
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(&a, &b)| a * b)
        .sum();
    lanes.iter().sum::<f32>() + tail
}

struct Dots<'a> {
    weights: &'a [u16],
    cols: usize,
    x: &'a [f32],
    out: &'a mut [f32],
}

impl WithSimd for Dots<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) {
        for (row, out) in self
            .weights
            .chunks_exact(self.cols)
            .zip(self.out.iter_mut())
        {
            *out = dot(row, self.x);
        }
    }
}

#[inline(always)]
fn dot(weights: &[u16], x: &[f32]) -> f32 {
    let mut lanes = [0f32; LANES];
    let mut w_chunks = weights.chunks_exact(LANES);
    let mut x_chunks = x.chunks_exact(LANES);
    for (w, x) in (&mut w_chunks).zip(&mut x_chunks) {
        for ((lane, &w), &x) in lanes.iter_mut().zip(w).zip(x) {
            *lane += half_to_f32(w) * x;
        }
    }
    let tail: f32 = w_chunks
        .remainder()
        .iter()
        .zip(x_chunks.remainder())
        .map(|(&w, &x)| half_to_f32(w) * x)
        .sum();
    lanes.iter().sum::<f32>() + tail
}

/// IEEE f16 bits → f32, exact for finite values (subnormals included), branch-free: move the
/// exponent and mantissa into f32 position and rescale by 2¹¹², then restore the sign.
#[inline(always)]
pub(crate) fn half_to_f32(half: u16) -> f32 {
    const REBIAS: f32 = 5.192_297e33; // 2^112 = 2^(127 - 15)
    let half = u32::from(half);
    let magnitude = f32::from_bits((half & 0x7fff) << 13) * REBIAS;
    f32::from_bits(magnitude.to_bits() | ((half & 0x8000) << 16))
}

/// f32 → nearest f16 bits (ties to even).
fn f32_to_half(value: f32) -> u16 {
    let bits = value.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let magnitude = value.abs();
    if magnitude.is_nan() {
        return sign | 0x7e00;
    }
    if magnitude >= 65_520.0 {
        return sign | 0x7c00;
    }
    // Scaling by 2⁻¹¹² maps the f16 range onto f32 subnormal/normal spacing where the f32
    // rounding step equals the f16 one, so the hardware does the rounding.
    let scaled = magnitude * 1.925_93e-34; // 2^-112
    let rounded = (scaled.to_bits() + 0x0fff + ((scaled.to_bits() >> 13) & 1)) >> 13;
    sign | rounded as u16
}

#[cfg(test)]
mod tests {
    use candle_core::Device;

    use super::*;

    #[test]
    fn half_conversion_is_exact_both_ways() {
        for bits in (0u16..0x7c00)
            .step_by(7)
            .chain([0, 1, 0x03ff, 0x0400, 0x3c00, 0x7bff])
        {
            for sign in [0, 0x8000] {
                let half = bits | sign;
                let value = half_to_f32(half);
                assert_eq!(f32_to_half(value), half, "bits {half:#06x} -> {value}");
            }
        }
        assert_eq!(half_to_f32(0x3c00), 1.0);
        assert_eq!(half_to_f32(0xc000), -2.0);
        assert_eq!(half_to_f32(0x0001), 5.960_464_5e-8);
    }

    #[test]
    fn matvec_matches_candle_matmul() {
        let (rows, cols) = (70, 37);
        let weights: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 37) % 19) as f32 / 8.0 - 1.0)
            .collect();
        let x: Vec<f32> = (0..cols).map(|i| (i as f32 * 0.3).sin()).collect();
        let w = Tensor::from_vec(weights, (rows, cols), &Device::Cpu).unwrap();
        let xt = Tensor::from_vec(x.clone(), (1, cols), &Device::Cpu).unwrap();
        let expected = xt
            .matmul(&w.t().unwrap())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let matrix = HalfMatrix::from_tensor(&w).unwrap();
        assert_eq!((matrix.rows(), matrix.cols()), (rows, cols));
        let bias = vec![1.0; rows];
        let got = matrix.matvec(&x, Some(&bias));
        for (g, e) in got.iter().zip(&expected) {
            assert!((g - (e + 1.0)).abs() < 1e-4, "{g} vs {e}");
        }
        assert_eq!(matrix.row(1), w.get(1).unwrap().to_vec1::<f32>().unwrap());

        let y: Vec<f32> = x.iter().map(|v| v * 2.0 - 0.5).collect();
        let many = matrix.matmul_rows(&[x.clone(), y.clone()]);
        assert_eq!(many.len(), 2);
        for (got, expected) in many
            .iter()
            .zip([matrix.matvec(&x, None), matrix.matvec(&y, None)])
        {
            for (g, e) in got.iter().zip(&expected) {
                assert!((g - e).abs() < 1e-4, "{g} vs {e}");
            }
        }
    }
}
