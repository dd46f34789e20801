//! Which stretches of the prepared audio Whisper decodes, and how its times map back.
//!
//! Whisper invents text in silence and noise, so transcribe decodes only the speech regions
//! prepare found. Consecutive regions are joined, the gaps between them removed, into chunks of
//! at most one Whisper window ([`MAX_CHUNK_SECS`]): a chunk ends only between two regions, in a
//! pause, never mid-word. Times Whisper gives on a chunk are mapped back through the chunk's
//! table of spans, so a time after a removed gap is as exact as one before it. Positions are
//! kept in samples, the unit the audio is cut in, so the mapping is exact to the sample instead
//! of to a rounding of seconds.

use std::ops::Range;

use dalston_audio::WavReader;
use dalston_models::{SampleSource, Segment, SourceError};

use super::prepare::SpeechRegion;

/// Longest chunk of speech decoded at once: one Whisper window. A single region longer than this
/// (prepare cuts regions at this length, so it only comes from audio transcribed whole) becomes a
/// chunk of its own, which the model's 30 s windows with seeking then cover.
pub const MAX_CHUNK_SECS: f64 = 30.0;

/// Consecutive stretches of the prepared audio decoded as one clip, the gaps between them
/// removed.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeechChunk {
    sample_rate_hz: f64,
    spans: Vec<Span>,
}

/// One stretch of a chunk: where it is in the prepared audio and where it starts in the clip.
#[derive(Debug, Clone, PartialEq)]
struct Span {
    source: Range<usize>,
    clip_start: usize,
}

/// Which side of a seam between two spans a time exactly on it belongs to: a start to the span
/// that begins there, an end to the span that ends there (so neither lands in the removed gap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edge {
    Start,
    End,
}

/// Groups speech regions (seconds, in order, as prepare reports them) of audio `audio_samples`
/// long into chunks of at most [`MAX_CHUNK_SECS`] of speech each, in order. Regions are clamped
/// to the audio and to the end of the region before; ones left empty are dropped.
pub fn plan_chunks(
    regions: &[SpeechRegion],
    audio_samples: usize,
    sample_rate_hz: u32,
) -> Vec<SpeechChunk> {
    let to_sample = |secs: f64| samples_in(secs, sample_rate_hz).min(audio_samples);
    let max_chunk_samples = samples_in(MAX_CHUNK_SECS, sample_rate_hz);
    let mut chunks = Vec::new();
    let mut current: Vec<Range<usize>> = Vec::new();
    let mut current_samples = 0;
    let mut previous_end = 0;
    for region in regions {
        let start = to_sample(region.start_secs).max(previous_end);
        let end = to_sample(region.end_secs);
        if end <= start {
            continue;
        }
        previous_end = end;
        if !current.is_empty() && current_samples + (end - start) > max_chunk_samples {
            chunks.push(SpeechChunk::new(
                std::mem::take(&mut current),
                sample_rate_hz,
            ));
            current_samples = 0;
        }
        current.push(start..end);
        current_samples += end - start;
    }
    if !current.is_empty() {
        chunks.push(SpeechChunk::new(current, sample_rate_hz));
    }
    chunks
}

/// The sample nearest `secs` (0 for a negative time).
fn samples_in(secs: f64, sample_rate_hz: u32) -> usize {
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a non-negative sample position"
    )]
    let sample = (secs.max(0.0) * f64::from(sample_rate_hz)).round() as usize;
    sample
}

impl SpeechChunk {
    /// A chunk of the given stretches (sample ranges of the prepared audio, in order, not
    /// overlapping, none empty).
    fn new(sources: impl IntoIterator<Item = Range<usize>>, sample_rate_hz: u32) -> Self {
        let mut clip_start = 0;
        let spans = sources
            .into_iter()
            .map(|source| {
                let span = Span { clip_start, source };
                clip_start += span.source.len();
                span
            })
            .collect();
        Self {
            sample_rate_hz: f64::from(sample_rate_hz),
            spans,
        }
    }

    /// The whole audio as one chunk: what transcribe decodes when the job turned VAD off.
    pub fn whole(audio_samples: usize, sample_rate_hz: u32) -> Self {
        Self::new(std::iter::once(0..audio_samples), sample_rate_hz)
    }

    /// Length of the clip (speech only) in seconds.
    pub fn duration_secs(&self) -> f64 {
        self.clip_samples() as f64 / self.sample_rate_hz
    }

    /// Length of the clip in samples: where its last stretch ends.
    fn clip_samples(&self) -> usize {
        self.spans
            .last()
            .map_or(0, |span| span.clip_start + span.source.len())
    }

    /// The clip (the chunk's stretches of the prepared audio, joined) as Whisper reads it: a
    /// window at a time, straight from `audio`, so a long chunk (the whole file, when VAD is
    /// off) is never in memory whole.
    pub fn clip<'a>(&'a self, audio: &'a mut WavReader) -> ChunkClip<'a> {
        ChunkClip { chunk: self, audio }
    }

    /// Moves a segment Whisper decoded on this chunk's clip, and its words, onto the audio's
    /// timeline. A word moves with the span its middle lies in, so a word that straddles a seam
    /// keeps its length and its order, and stays inside its segment.
    pub fn restore(&self, segment: &mut Segment) {
        for word in &mut segment.words {
            let shift = self.shift_at((word.start_secs + word.end_secs) / 2.0, Edge::Start);
            word.start_secs += shift;
            word.end_secs += shift;
        }
        segment.start_secs += self.shift_at(segment.start_secs, Edge::Start);
        segment.end_secs += self.shift_at(segment.end_secs, Edge::End);
    }

    /// What to add to a time on the clip (seconds from its first sample) to put it on the
    /// audio's timeline: the gaps removed before the span it lies in (the last span for a time
    /// past the clip's end).
    fn shift_at(&self, clip_secs: f64, edge: Edge) -> f64 {
        let position = clip_secs * self.sample_rate_hz;
        let holds = |span: &&Span| {
            let clip_end = (span.clip_start + span.source.len()) as f64;
            match edge {
                Edge::Start => position < clip_end,
                Edge::End => position <= clip_end,
            }
        };
        self.spans
            .iter()
            .find(holds)
            .or_else(|| self.spans.last())
            .map_or(0.0, |span| {
                (span.source.start as f64 - span.clip_start as f64) / self.sample_rate_hz
            })
    }
}

/// A chunk's clip read from the prepared audio: see [`SpeechChunk::clip`].
pub struct ChunkClip<'a> {
    chunk: &'a SpeechChunk,
    audio: &'a mut WavReader,
}

impl SampleSource for ChunkClip<'_> {
    fn len(&self) -> usize {
        self.chunk.clip_samples()
    }

    /// The part of each stretch that falls inside `range` of the clip, joined.
    fn read(&mut self, range: Range<usize>) -> Result<Vec<f32>, SourceError> {
        let mut samples = Vec::with_capacity(range.len());
        for span in &self.chunk.spans {
            let start = range.start.max(span.clip_start);
            let end = range.end.min(span.clip_start + span.source.len());
            if start < end {
                let to_audio = |clip: usize| span.source.start + clip - span.clip_start;
                samples.extend(self.audio.read(to_audio(start), to_audio(end))?);
            }
        }
        Ok(samples)
    }
}

#[cfg(test)]
mod tests {
    use dalston_models::WordTiming;

    use super::*;

    const RATE: u32 = 16_000;

    fn region(start_secs: f64, end_secs: f64) -> SpeechRegion {
        SpeechRegion {
            start_secs,
            end_secs,
        }
    }

    /// The chunks' stretches in seconds of the audio.
    fn stretches(chunks: &[SpeechChunk]) -> Vec<Vec<(f64, f64)>> {
        let secs = |sample: usize| sample as f64 / f64::from(RATE);
        chunks
            .iter()
            .map(|chunk| {
                chunk
                    .spans
                    .iter()
                    .map(|span| (secs(span.source.start), secs(span.source.end)))
                    .collect()
            })
            .collect()
    }

    fn segment(start_secs: f64, end_secs: f64, words: &[(f64, f64)]) -> Segment {
        Segment {
            start_secs,
            end_secs,
            text: String::new(),
            tokens: Vec::new(),
            avg_logprob: 0.0,
            compression_ratio: 1.0,
            no_speech_prob: 0.0,
            temperature: 0.0,
            words: words
                .iter()
                .map(|&(start_secs, end_secs)| WordTiming {
                    word: " word".into(),
                    start_secs,
                    end_secs,
                    probability: 1.0,
                })
                .collect(),
        }
    }

    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() < 1e-9
    }

    #[test]
    fn regions_are_grouped_up_to_thirty_seconds_of_speech_and_cut_only_between_them() {
        // 12 + 10 + 8 = 30 s of speech fit one chunk (gaps do not count); the next 5 s do not.
        let regions = [
            region(1.0, 13.0),
            region(20.0, 30.0),
            region(100.0, 108.0),
            region(110.0, 115.0),
            region(200.0, 230.0),
        ];
        let chunks = plan_chunks(&regions, 300 * RATE as usize, RATE);
        assert_eq!(
            stretches(&chunks),
            [
                vec![(1.0, 13.0), (20.0, 30.0), (100.0, 108.0)],
                vec![(110.0, 115.0)],
                vec![(200.0, 230.0)],
            ]
        );
        assert!(close(chunks[0].duration_secs(), 30.0));
        assert!(close(chunks[1].duration_secs(), 5.0));
    }

    #[test]
    fn a_region_longer_than_a_window_is_a_chunk_of_its_own() {
        let regions = [region(0.0, 2.0), region(3.0, 48.0), region(50.0, 51.0)];
        let chunks = plan_chunks(&regions, 60 * RATE as usize, RATE);
        assert_eq!(
            stretches(&chunks),
            [vec![(0.0, 2.0)], vec![(3.0, 48.0)], vec![(50.0, 51.0)]]
        );
    }

    #[test]
    fn regions_are_clamped_to_the_audio_and_empty_ones_dropped() {
        let regions = [
            region(-0.5, 1.0),
            region(0.5, 2.0),
            region(3.0, 3.0),
            region(9.0, 12.0),
            region(11.0, 12.0),
        ];
        let chunks = plan_chunks(&regions, 10 * RATE as usize, RATE);
        assert_eq!(
            stretches(&chunks),
            [vec![(0.0, 1.0), (1.0, 2.0), (9.0, 10.0)]]
        );
        assert!(plan_chunks(&[], 10 * RATE as usize, RATE).is_empty());
        assert!(plan_chunks(&regions, 0, RATE).is_empty());
    }

    #[test]
    fn times_after_a_removed_gap_map_back_exactly() {
        // Clip: [0, 2) is audio 20–22 s, [2, 5) is audio 30–33 s.
        let chunk = SpeechChunk::new(vec![320_000..352_000, 480_000..528_000], RATE);
        let mut decoded = segment(0.5, 4.5, &[(0.5, 1.0), (2.5, 4.5)]);
        chunk.restore(&mut decoded);
        assert!(close(decoded.start_secs, 20.5));
        assert!(close(decoded.end_secs, 32.5));
        assert!(close(decoded.words[0].start_secs, 20.5));
        assert!(close(decoded.words[0].end_secs, 21.0));
        assert!(close(decoded.words[1].start_secs, 30.5));
        assert!(close(decoded.words[1].end_secs, 32.5));
    }

    #[test]
    fn times_on_a_seam_stay_out_of_the_gap() {
        let chunk = SpeechChunk::new(vec![320_000..352_000, 480_000..528_000], RATE);
        // A segment ending where the first span ends ends at 22 s, not at 30 s; one starting
        // there starts at 30 s, not at 22 s.
        let mut before = segment(1.0, 2.0, &[]);
        chunk.restore(&mut before);
        assert!(close(before.end_secs, 22.0));
        let mut after = segment(2.0, 3.0, &[]);
        chunk.restore(&mut after);
        assert!(close(after.start_secs, 30.0));
    }

    #[test]
    fn a_word_across_a_seam_moves_whole_with_the_span_of_its_middle() {
        let chunk = SpeechChunk::new(vec![320_000..352_000, 480_000..528_000], RATE);
        let mut decoded = segment(1.0, 3.0, &[(1.0, 1.8), (1.9, 2.5), (2.5, 3.0)]);
        chunk.restore(&mut decoded);
        let words: Vec<(f64, f64)> = decoded
            .words
            .iter()
            .map(|word| (word.start_secs, word.end_secs))
            .collect();
        // The middle word (1.9–2.5, middle 2.2) is in the second span: 29.9–30.5.
        let expected = [(21.0, 21.8), (29.9, 30.5), (30.5, 31.0)];
        for ((start, end), (want_start, want_end)) in words.iter().zip(expected) {
            assert!(
                close(*start, want_start) && close(*end, want_end),
                "{words:?}"
            );
        }
        assert!(decoded.start_secs <= words[0].0 && words[2].1 <= decoded.end_secs);
    }

    #[test]
    fn the_whole_audio_maps_to_itself() {
        let chunk = SpeechChunk::whole(11 * RATE as usize, RATE);
        assert!(close(chunk.duration_secs(), 11.0));
        let mut decoded = segment(0.25, 10.75, &[(0.25, 3.0)]);
        chunk.restore(&mut decoded);
        assert!(close(decoded.start_secs, 0.25) && close(decoded.end_secs, 10.75));
        assert!(close(decoded.words[0].end_secs, 3.0));
    }

    #[test]
    fn a_clip_reads_any_range_across_its_seams_from_the_audio() {
        // Sample i of the audio holds i / 2¹⁵, exactly representable in 16-bit PCM.
        let audio: Vec<f32> = (0..100u16).map(|i| f32::from(i) / 32768.0).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audio.wav");
        std::fs::write(&path, dalston_audio::encode_wav_pcm16(&audio, RATE)).unwrap();
        let mut reader = WavReader::open(&path).unwrap();
        let chunk = SpeechChunk::new([10..20, 50..55, 90..100], RATE);
        let mut clip = chunk.clip(&mut reader);
        assert_eq!(clip.len(), 25);
        let read = |clip: &mut ChunkClip<'_>, range: Range<usize>| -> Vec<u16> {
            let samples = clip.read(range).unwrap();
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "test"
            )]
            samples
                .iter()
                .map(|s| (s * 32768.0).round() as u16)
                .collect()
        };
        assert_eq!(read(&mut clip, 0..3), [10, 11, 12]);
        assert_eq!(read(&mut clip, 8..13), [18, 19, 50, 51, 52]);
        assert_eq!(
            read(&mut clip, 14..25),
            [54, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99]
        );
        assert_eq!(read(&mut clip, 0..25).len(), 25);
        assert!(read(&mut clip, 25..25).is_empty());
    }
}
