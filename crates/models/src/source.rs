//! Where transcription reads its audio from, a window at a time.
//!
//! A long recording held whole costs 230 MB of f32 samples an hour, and its spectrogram half as
//! much again; a [`SampleSource`] lets the model read only the window it is working on, so
//! memory stays the same whatever the length. A slice of samples already in memory is one.

use std::ops::Range;

/// What a [`SampleSource`] fails with: whatever its storage reports.
pub type SourceError = Box<dyn std::error::Error + Send + Sync>;

/// 16 kHz mono samples, read by range.
pub trait SampleSource {
    /// How many samples there are.
    fn len(&self) -> usize;

    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The samples in `range`, which lies inside `0..len()`.
    ///
    /// # Errors
    /// Whatever the storage behind the source fails with.
    fn read(&mut self, range: Range<usize>) -> Result<Vec<f32>, SourceError>;
}

impl SampleSource for &[f32] {
    fn len(&self) -> usize {
        <[f32]>::len(self)
    }

    fn read(&mut self, range: Range<usize>) -> Result<Vec<f32>, SourceError> {
        self.get(range.clone()).map(<[f32]>::to_vec).ok_or_else(|| {
            format!("samples {range:?} are outside 0..{}", <[f32]>::len(self)).into()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slice_reads_its_ranges_and_refuses_others() {
        let mut source: &[f32] = &[1.0, 2.0, 3.0];
        assert_eq!(SampleSource::len(&source), 3);
        assert_eq!(source.read(1..3).unwrap(), vec![2.0, 3.0]);
        assert!(source.read(2..4).is_err());
    }
}
