//! Per-channel transcription (`speaker_detection=per_channel`): each channel of a recording
//! (a call's two sides, one microphone per person) is transcribed on its own and is one speaker,
//! `SPEAKER_00` for channel 0, `SPEAKER_01` for channel 1, …; the channels' segments are then
//! interleaved by time into one transcript. No clustering: the recording already says who spoke.

use serde::{Deserialize, Serialize};

use crate::diarization::speaker_label;
use crate::transcript::{Segment, Speaker, Transcript};

/// The segments transcribed from one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelSegments {
    pub channel: u16,
    pub segments: Vec<Segment>,
}

/// The speaker id of `channel`.
pub fn channel_speaker(channel: u16) -> String {
    speaker_label(usize::from(channel))
}

/// Labels every segment and word with its channel's speaker, interleaves the segments by start
/// time (a tie goes to the lower channel), renumbers their ids, and lists one speaker per
/// channel (with its channel and the summed length of its segments as talk time), silent
/// channels included, so each channel keeps its id.
pub fn interleave_channels(channels: Vec<ChannelSegments>) -> (Vec<Segment>, Vec<Speaker>) {
    let mut speakers = Vec::with_capacity(channels.len());
    let mut segments = Vec::new();
    for ChannelSegments {
        channel,
        segments: mut own,
    } in channels
    {
        let id = channel_speaker(channel);
        for segment in &mut own {
            segment.speaker = Some(id.clone());
            for word in &mut segment.words {
                word.speaker = Some(id.clone());
            }
        }
        speakers.push(Speaker {
            id,
            channel: Some(channel),
            talk_time_secs: own
                .iter()
                .map(|s| (s.end_secs - s.start_secs).max(0.0))
                .sum(),
        });
        segments.extend(own.into_iter().map(|segment| (channel, segment)));
    }
    // Stable: within a channel the transcriber's order stands.
    segments.sort_by(|(a_channel, a), (b_channel, b)| {
        a.start_secs
            .total_cmp(&b.start_secs)
            .then(a_channel.cmp(b_channel))
    });
    let segments = segments
        .into_iter()
        .enumerate()
        .map(|(index, (_, mut segment))| {
            segment.id = Transcript::segment_id(index);
            segment
        })
        .collect();
    (segments, speakers)
}

/// The part of a per-channel transcript spoken on `channel`: its segments and words alone, its
/// text and its speaker (ElevenLabs answers a multichannel request with one transcript per
/// channel).
pub fn channel_transcript(transcript: &Transcript, channel: u16) -> Transcript {
    let id = channel_speaker(channel);
    let mine = |speaker: &Option<String>| speaker.as_deref() == Some(id.as_str());
    let segments: Vec<Segment> = transcript
        .segments
        .iter()
        .filter(|segment| mine(&segment.speaker))
        .cloned()
        .collect();
    Transcript {
        text: Transcript::join_segment_text(&segments),
        words: transcript
            .words
            .iter()
            .filter(|word| mine(&word.speaker))
            .cloned()
            .collect(),
        segments,
        speakers: transcript
            .speakers
            .iter()
            .filter(|speaker| speaker.id == id)
            .cloned()
            .collect(),
        ..transcript.clone()
    }
}

/// The channels of a per-channel transcript, in order: those its speakers name.
pub fn transcript_channels(transcript: &Transcript) -> Vec<u16> {
    let mut channels: Vec<u16> = transcript
        .speakers
        .iter()
        .filter_map(|speaker| speaker.channel)
        .collect();
    channels.sort_unstable();
    channels.dedup();
    channels
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::Word;

    fn segment(start: f64, end: f64, text: &str) -> Segment {
        Segment {
            id: String::new(),
            start_secs: start,
            end_secs: end,
            text: text.into(),
            speaker: None,
            words: vec![Word {
                text: text.into(),
                start_secs: start,
                end_secs: end,
                confidence: None,
                speaker: None,
            }],
            avg_logprob: None,
            compression_ratio: None,
            no_speech_prob: None,
            temperature: None,
        }
    }

    /// Channel 0 says hello, channel 1 hi, channel 0 bye.
    fn call() -> Vec<ChannelSegments> {
        vec![
            ChannelSegments {
                channel: 0,
                segments: vec![segment(0.0, 2.0, "hello"), segment(5.0, 6.0, "bye")],
            },
            ChannelSegments {
                channel: 1,
                segments: vec![segment(2.5, 4.0, "hi")],
            },
        ]
    }

    #[test]
    fn channels_are_speakers_interleaved_by_time() {
        let mut channels = call();
        channels.push(ChannelSegments {
            channel: 2,
            segments: vec![],
        });
        let (segments, speakers) = interleave_channels(channels);
        let order: Vec<(&str, &str, &str)> = segments
            .iter()
            .map(|s| {
                (
                    s.id.as_str(),
                    s.text.as_str(),
                    s.words[0].speaker.as_deref().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            order,
            [
                ("seg_000", "hello", "SPEAKER_00"),
                ("seg_001", "hi", "SPEAKER_01"),
                ("seg_002", "bye", "SPEAKER_00")
            ]
        );
        assert!(segments.iter().all(|s| s.speaker == s.words[0].speaker));
        let listed: Vec<(&str, Option<u16>, f64)> = speakers
            .iter()
            .map(|s| (s.id.as_str(), s.channel, s.talk_time_secs))
            .collect();
        assert_eq!(
            listed,
            [
                ("SPEAKER_00", Some(0), 3.0),
                ("SPEAKER_01", Some(1), 1.5),
                ("SPEAKER_02", Some(2), 0.0)
            ]
        );
    }

    #[test]
    fn a_channel_transcript_keeps_its_own_words() {
        let (segments, speakers) = interleave_channels(call());
        let transcript = Transcript {
            version: crate::transcript::TRANSCRIPT_VERSION.into(),
            text: Transcript::join_segment_text(&segments),
            language_code: "en".into(),
            language_probability: None,
            duration_secs: 6.0,
            words: segments.iter().flat_map(|s| s.words.clone()).collect(),
            segments,
            speakers,
            metadata: crate::transcript::TranscriptMetadata::default(),
        };
        assert_eq!(transcript.text, "hello hi bye");
        assert_eq!(transcript_channels(&transcript), [0, 1]);
        let first = channel_transcript(&transcript, 0);
        assert_eq!(first.text, "hello bye");
        assert_eq!(first.words.len(), 2);
        assert_eq!(first.speakers.len(), 1);
        let second = channel_transcript(&transcript, 1);
        assert_eq!(second.text, "hi");
        assert_eq!(second.segments[0].speaker.as_deref(), Some("SPEAKER_01"));
    }
}
