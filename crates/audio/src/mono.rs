//! Turning decoded buffers of any rate and channel count into one 16 kHz mono signal: their
//! average, or one chosen channel.

use crate::resample::StreamResampler;
use crate::{AudioError, SampleSink, TARGET_SAMPLE_RATE_HZ};

/// Turns decoded audio into 16 kHz mono for a [`SampleSink`]: each buffer is downmixed by
/// averaging its channels and resampled on the fly, and what is ready goes on at once, so
/// memory holds one buffer, not the signal.
///
/// The source rate may change between buffers (chained Ogg streams, odd MP3s): the running
/// resampler is flushed and a new one started.
pub(crate) struct MonoSink {
    /// Scratch for one buffer's resampled output.
    output: Vec<f32>,
    /// Samples handed to the sink so far.
    emitted: u64,
    segment: Option<Segment>,
    /// Scratch for one downmixed buffer.
    mono: Vec<f32>,
    /// Seconds of source audio received so far.
    source_secs: f64,
    max_duration_secs: Option<f64>,
    /// The one channel to keep; `None` averages them.
    channel: Option<u16>,
}

/// A run of buffers at one source rate.
struct Segment {
    rate_hz: u32,
    /// `None` when the source is already at the target rate.
    resampler: Option<StreamResampler>,
}

impl MonoSink {
    /// An empty sink that refuses more than `max_duration_secs` of source audio and keeps
    /// `channel` alone when one is given.
    pub(crate) fn new(max_duration_secs: Option<f64>, channel: Option<u16>) -> Self {
        Self {
            output: Vec::new(),
            emitted: 0,
            segment: None,
            mono: Vec::new(),
            source_secs: 0.0,
            max_duration_secs,
            channel,
        }
    }

    /// Seconds of source audio received so far.
    pub(crate) fn source_secs(&self) -> f64 {
        self.source_secs
    }

    /// Add one buffer of interleaved samples, passing what is ready on to `sink`.
    ///
    /// # Errors
    ///
    /// [`AudioError::TooLong`] once the audio received passes the limit; [`AudioError::Resample`]
    /// when the resampler fails; [`AudioError::Corrupt`] for a zero rate or channel count; the
    /// sink's own errors.
    pub(crate) fn push_interleaved(
        &mut self,
        rate_hz: u32,
        channels: usize,
        interleaved: &[f32],
        sink: &mut dyn SampleSink,
    ) -> Result<(), AudioError> {
        if rate_hz == 0 || channels == 0 {
            return Err(AudioError::Corrupt {
                detail: format!("decoder produced audio with {rate_hz} Hz and {channels} channels"),
            });
        }
        match self.channel {
            Some(channel) if channels > 1 => {
                select_into(interleaved, channels, usize::from(channel), &mut self.mono);
            }
            _ => downmix_into(interleaved, channels, &mut self.mono),
        }
        self.source_secs += self.mono.len() as f64 / f64::from(rate_hz);
        if let Some(max_secs) = self.max_duration_secs
            && self.source_secs > max_secs
        {
            return Err(AudioError::TooLong {
                duration_secs: self.source_secs,
                max_secs,
            });
        }
        if self
            .segment
            .as_ref()
            .is_none_or(|segment| segment.rate_hz != rate_hz)
        {
            self.finish_segment(sink)?;
            let resampler = if rate_hz == TARGET_SAMPLE_RATE_HZ {
                None
            } else {
                Some(StreamResampler::new(rate_hz, TARGET_SAMPLE_RATE_HZ)?)
            };
            self.segment = Some(Segment { rate_hz, resampler });
        }
        match self
            .segment
            .as_mut()
            .and_then(|segment| segment.resampler.as_mut())
        {
            Some(resampler) => resampler.push(&self.mono, &mut self.output)?,
            None => self.output.extend_from_slice(&self.mono),
        }
        self.flush(sink)
    }

    /// Flush the resampler into `sink`; returns how many samples the sink received in all.
    pub(crate) fn finish(mut self, sink: &mut dyn SampleSink) -> Result<u64, AudioError> {
        self.finish_segment(sink)?;
        Ok(self.emitted)
    }

    fn finish_segment(&mut self, sink: &mut dyn SampleSink) -> Result<(), AudioError> {
        if let Some(Segment {
            resampler: Some(resampler),
            ..
        }) = self.segment.take()
        {
            resampler.finish(&mut self.output)?;
        }
        self.flush(sink)
    }

    fn flush(&mut self, sink: &mut dyn SampleSink) -> Result<(), AudioError> {
        self.emitted += self.output.len() as u64;
        sink.push(&self.output)?;
        self.output.clear();
        Ok(())
    }
}

/// Average each frame's channels into one sample, replacing the contents of `mono`.
pub(crate) fn downmix_into(interleaved: &[f32], channels: usize, mono: &mut Vec<f32>) {
    mono.clear();
    if channels <= 1 {
        mono.extend_from_slice(interleaved);
        return;
    }
    let scale = 1.0 / channels as f32;
    mono.extend(
        interleaved
            .chunks_exact(channels)
            .map(|frame| frame.iter().sum::<f32>() * scale),
    );
}

/// Take channel `channel` of each frame (silence when the frames have no such channel),
/// replacing the contents of `mono`.
pub(crate) fn select_into(
    interleaved: &[f32],
    channels: usize,
    channel: usize,
    mono: &mut Vec<f32>,
) {
    mono.clear();
    mono.extend(
        interleaved
            .chunks_exact(channels)
            .map(|frame| frame.get(channel).copied().unwrap_or(0.0)),
    );
}

#[cfg(test)]
mod tests {
    use super::{MonoSink, downmix_into, select_into};
    use crate::AudioError;

    #[test]
    fn downmix_averages_channels() {
        let mut mono = vec![9.0];
        downmix_into(&[1.0, 0.0, 0.5, 0.5, -1.0, 1.0], 2, &mut mono);
        assert_eq!(mono, vec![0.5, 0.5, 0.0]);
        downmix_into(&[0.3, 0.6, 0.9], 3, &mut mono);
        assert!((mono[0] - 0.6).abs() < 1e-6);
        downmix_into(&[0.25, -0.25], 1, &mut mono);
        assert_eq!(mono, vec![0.25, -0.25]);
    }

    #[test]
    fn selection_keeps_one_channel() {
        let mut mono = Vec::new();
        select_into(&[1.0, 0.0, 0.5, -0.5], 2, 1, &mut mono);
        assert_eq!(mono, vec![0.0, -0.5]);
        select_into(&[1.0, 0.0], 2, 3, &mut mono);
        assert_eq!(mono, vec![0.0]);
        let mut sink = MonoSink::new(None, Some(0));
        let mut output: Vec<f32> = Vec::new();
        sink.push_interleaved(16_000, 2, &[0.25, 0.75, 0.25, 0.75], &mut output)
            .unwrap();
        sink.push_interleaved(16_000, 1, &[0.5], &mut output)
            .unwrap();
        assert_eq!(output, vec![0.25, 0.25, 0.5]);
    }

    #[test]
    fn sink_passes_16k_through_and_resamples_other_rates() {
        let mut sink = MonoSink::new(None, None);
        let mut output: Vec<f32> = Vec::new();
        sink.push_interleaved(16_000, 1, &vec![0.1; 16_000], &mut output)
            .unwrap();
        sink.push_interleaved(8_000, 2, &vec![0.2; 2 * 8_000], &mut output)
            .unwrap();
        assert!((sink.source_secs() - 2.0).abs() < 1e-9);
        assert_eq!(sink.finish(&mut output).unwrap(), 32_000);
        assert_eq!(output.len(), 32_000);
        assert!(output[..16_000].iter().all(|&sample| sample == 0.1));
        // Away from the rate switch the resampled constant stays constant.
        let middle = &output[20_000..30_000];
        assert!(middle.iter().all(|&sample| (sample - 0.2).abs() < 1e-3));
    }

    #[test]
    fn sink_stops_at_the_duration_limit() {
        let mut sink = MonoSink::new(Some(1.5), None);
        let mut output: Vec<f32> = Vec::new();
        sink.push_interleaved(16_000, 1, &vec![0.0; 16_000], &mut output)
            .unwrap();
        let error = sink
            .push_interleaved(16_000, 1, &vec![0.0; 16_000], &mut output)
            .unwrap_err();
        assert!(
            matches!(error, AudioError::TooLong { duration_secs, max_secs } if duration_secs == 2.0 && max_secs == 1.5)
        );
    }
}
