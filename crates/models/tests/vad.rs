//! Silero VAD in Rust against the official package on real speech.
//!
//! `data/silero_vad_reference.json` holds, for jfk.wav and a LibriVox clip, per-chunk speech
//! probabilities of (1) the package's own network definition (`tinygrad_model.py`, written out
//! in numpy) on the package's `silero_vad_16k.safetensors`, which is what Dalston ports, and (2)
//! the package's `silero_vad.onnx` run with onnxruntime the way its `OnnxWrapper` runs it, plus
//! the regions its `get_speech_timestamps_from_probs` finds on (2) (made by
//! `data/silero_vad_reference.py`, silero-vad 6.2.3 and onnxruntime 1.32.0 in a throwaway venv).
//!
//! The safetensors and ONNX files of 6.2.3 do not hold the same weights (only the STFT basis is
//! shared): their probabilities differ by up to 0.41 on single chunks, while the regions they
//! give agree to within a few chunks. So Rust is pinned tightly to (1) and loosely to (2).
#![expect(clippy::unwrap_used, reason = "tests")]
#![expect(
    dead_code,
    reason = "the shared support module has Whisper helpers this test does not use"
)]

mod support;

use dalston_models::vad::{SileroVad, SpeechOptions, SpeechRegion, SpeechSegmenter};
use serde::Deserialize;
use support::fixtures::{models_dir, samples};

/// Largest difference allowed between a Rust and a numpy probability of the same network: both
/// run it in f32 (numpy partly in f64) with different summation orders.
const MAX_PROBABILITY_DIFFERENCE: f32 = 1e-3;
/// Largest mean difference allowed from the ONNX model's probabilities (other weights).
const MAX_MEAN_ONNX_DIFFERENCE: f32 = 0.05;
/// Largest shift allowed of a region edge from the ONNX model's regions: four 32 ms chunks.
const MAX_ONNX_EDGE_SHIFT_SAMPLES: usize = 4 * 512;

#[derive(Deserialize)]
struct Reference {
    clips: std::collections::BTreeMap<String, Clip>,
}

#[derive(Deserialize)]
struct Clip {
    samples: usize,
    probabilities: Vec<f32>,
    probabilities_safetensors: Vec<f32>,
    regions_default: Vec<Region>,
    regions_long: Vec<Region>,
}

#[derive(Deserialize, Debug, PartialEq)]
struct Region {
    start: usize,
    end: usize,
}

impl From<SpeechRegion> for Region {
    fn from(region: SpeechRegion) -> Self {
        Region {
            start: region.start,
            end: region.end,
        }
    }
}

fn reference() -> Reference {
    let text = include_str!("data/silero_vad_reference.json");
    serde_json::from_str(text).unwrap()
}

fn recording(name: &str) -> Vec<f32> {
    if name == "jfk.wav" {
        samples(name)
    } else {
        samples(&format!("librivox/{name}"))
    }
}

/// The options the reference's `regions_long` were made with.
fn long_options() -> SpeechOptions {
    SpeechOptions {
        min_speech_duration_ms: 0,
        min_silence_duration_ms: 500,
        speech_pad_ms: 200,
        max_speech_duration_s: 3.0,
        ..SpeechOptions::default()
    }
}

fn segment(probabilities: &[f32], total_samples: usize, options: &SpeechOptions) -> Vec<Region> {
    let mut segmenter = SpeechSegmenter::new(options);
    for &probability in probabilities {
        segmenter.push(probability);
    }
    segmenter
        .finish(total_samples)
        .into_iter()
        .map(Region::from)
        .collect()
}

#[test]
fn probabilities_match_the_official_package() {
    let vad = SileroVad::load(&models_dir().join("silero-vad")).unwrap();
    for (name, clip) in reference().clips {
        let audio = recording(&name);
        assert_eq!(audio.len(), clip.samples, "{name}");
        // Pieces of an odd size, so chunks straddle pushes.
        let mut stream = vad.stream();
        let mut probabilities = Vec::new();
        for piece in audio.chunks(1_000) {
            stream.push(piece, &mut probabilities).unwrap();
        }
        stream.finish(&mut probabilities).unwrap();
        assert_eq!(probabilities.len(), clip.probabilities.len(), "{name}");
        let differences = |reference: &[f32]| -> (f32, f32) {
            let differences: Vec<f32> = probabilities
                .iter()
                .zip(reference)
                .map(|(rust, other)| (rust - other).abs())
                .collect();
            let max = differences.iter().copied().fold(0.0f32, f32::max);
            (
                max,
                differences.iter().sum::<f32>() / differences.len() as f32,
            )
        };
        let (max_difference, mean_difference) = differences(&clip.probabilities_safetensors);
        let (max_onnx, mean_onnx) = differences(&clip.probabilities);
        eprintln!(
            "{name}: {} chunks; vs the package's network on the safetensors: max {max_difference:.2e}, \
             mean {mean_difference:.2e}; vs its ONNX model: max {max_onnx:.3}, mean {mean_onnx:.3}",
            probabilities.len()
        );
        assert!(
            max_difference <= MAX_PROBABILITY_DIFFERENCE,
            "{name}: max difference {max_difference}"
        );
        assert!(mean_onnx <= MAX_MEAN_ONNX_DIFFERENCE, "{name}: {mean_onnx}");
        // The probabilities mean something: speech is found, and not everywhere.
        let speech = probabilities.iter().filter(|&&p| p >= 0.5).count();
        assert!(
            speech > probabilities.len() / 2 && speech < probabilities.len(),
            "{name}"
        );
    }
}

#[test]
fn regions_match_the_official_package() {
    let vad = SileroVad::load(&models_dir().join("silero-vad")).unwrap();
    for (name, clip) in reference().clips {
        // The rules alone, on the package's own probabilities: exactly its regions.
        assert_eq!(
            segment(&clip.probabilities, clip.samples, &SpeechOptions::default()),
            clip.regions_default,
            "{name}, default options"
        );
        assert_eq!(
            segment(&clip.probabilities, clip.samples, &long_options()),
            clip.regions_long,
            "{name}, long-region options"
        );
        // End to end from the samples, fed in pieces: the ONNX model's regions, give or take
        // up to four chunks at the edges.
        let audio = recording(&name);
        for (options, expected) in [
            (SpeechOptions::default(), &clip.regions_default),
            (long_options(), &clip.regions_long),
        ] {
            let mut detector = vad.detector(&options);
            for piece in audio.chunks(4_321) {
                detector.push(piece).unwrap();
            }
            let regions: Vec<Region> = detector
                .finish()
                .unwrap()
                .into_iter()
                .map(Region::from)
                .collect();
            assert_eq!(
                regions.len(),
                expected.len(),
                "{name}, {options:?}: {regions:?}"
            );
            for (found, expected) in regions.iter().zip(expected) {
                assert!(
                    found.start.abs_diff(expected.start) <= MAX_ONNX_EDGE_SHIFT_SAMPLES
                        && found.end.abs_diff(expected.end) <= MAX_ONNX_EDGE_SHIFT_SAMPLES,
                    "{name}, {options:?}: {found:?} against {expected:?}"
                );
            }
        }
    }
}

#[test]
fn silence_and_noise_have_no_speech() {
    let vad = SileroVad::load(&models_dir().join("silero-vad")).unwrap();
    let silence = vec![0.0f32; 16_000 * 10];
    // White noise at about -20 dBFS from a fixed linear congruential generator.
    let mut seed = 0x2545_F491_u32;
    let noise: Vec<f32> = (0..16_000 * 10)
        .map(|_| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 * 0.2 - 0.1
        })
        .collect();
    for (name, signal) in [("silence", silence), ("noise", noise)] {
        let mut detector = vad.detector(&SpeechOptions::default());
        detector.push(&signal).unwrap();
        assert_eq!(detector.finish().unwrap(), Vec::new(), "{name}");
    }
}
