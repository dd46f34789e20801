//! The inference thread pool, and how it bounds candle's CPU parallelism.
//!
//! What candle 0.11 does (read from its source, `candle-core/src/utils.rs` and
//! `cpu_backend/mod.rs`):
//! - matmuls call `gemm` with `Parallelism::Rayon(get_num_threads())`, where
//!   `get_num_threads()` is `RAYON_NUM_THREADS` or else the physical core count, re-read on every
//!   call. `gemm` splits the work into that many tasks with `rayon::into_par_iter`, which runs
//!   them on the *current* rayon pool. Convolutions also use `into_par_iter`.
//! - large element-wise ops (≥ 64 Ki elements: GELU, adds, …) go to a global spinning "barrier
//!   pool" sized once from `CANDLE_NUM_THREADS`, else `RAYON_NUM_THREADS`, else the physical
//!   core count. There is no API to resize it.
//!
//! So every inference call here runs inside a rayon pool of our own with `LoadOptions.threads`
//! workers: that caps the matmul and convolution work, which is nearly all the time spent,
//! without touching the process environment (setting variables at run time is `unsafe` in
//! Rust 2024 and racy). The element-wise barrier pool still follows the environment; to pin it,
//! set `CANDLE_NUM_THREADS` before the process starts.

use rayon::ThreadPool;

use crate::ModelError;

/// Threads used when `LoadOptions.threads` is 0, capped at the CPUs available. Measured on
/// the 2-vCPU development machine with base on 77 s of speech, release build, while other
/// builds kept the host busy (load ≈ 4.5): real-time factor 0.13–0.14 with 1 thread,
/// 0.12–0.13 with 2. Two threads never lost, so 2 it is; a host that runs several
/// transcriptions at once should give each model 1.
pub const DEFAULT_THREADS: usize = 2;

/// The number of worker threads for a requested count (0 = decide).
pub(crate) fn resolve_threads(requested: usize) -> usize {
    if requested > 0 {
        return requested;
    }
    let available = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    DEFAULT_THREADS.min(available).max(1)
}

/// A rayon pool with `threads` workers for one model's inference.
pub(crate) fn build_pool(threads: usize) -> Result<ThreadPool, ModelError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|index| format!("whisper-{index}"))
        .build()
        .map_err(ModelError::ThreadPool)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_counts_are_kept_and_zero_decides() {
        assert_eq!(resolve_threads(3), 3);
        let decided = resolve_threads(0);
        assert!((1..=DEFAULT_THREADS).contains(&decided));
        let pool = build_pool(1).unwrap();
        assert_eq!(pool.install(rayon::current_num_threads), 1);
    }
}
