//! Turning aligned tokens into words, and the corrections OpenAI Whisper applies to word
//! timings (`timing.py`): punctuation joins its neighbour, implausibly long words at sentence
//! and segment boundaries are shortened, and times are kept in order inside their segment.

/// Punctuation joined to the word after it (OpenAI's `prepend_punctuations`).
pub(crate) const PREPEND_PUNCTUATION: &str = "\"'“¿([{-";
/// Punctuation joined to the word before it (OpenAI's `append_punctuations`).
pub(crate) const APPEND_PUNCTUATION: &str = "\"'.。,，!！?？:：”)]}、";
/// Python's `string.punctuation`: a sub-word made of these starts a new word.
const ASCII_PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
/// Marks after which a long word is taken to be swallowing a pause.
const SENTENCE_END_MARKS: &str = ".。!！?？";
/// Cap on the median word duration used by the long-word heuristics (OpenAI's 0.7 s).
const MAX_MEDIAN_DURATION_SECS: f64 = 0.7;
/// Languages written without spaces between words: split at character boundaries instead.
const UNSPACED_LANGUAGES: [&str; 6] = ["zh", "ja", "th", "lo", "my", "yue"];

/// A word with its tokens and timing, before it is attached to a segment.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AlignedWord {
    /// Text with its leading space; empty once its punctuation moved to a neighbour.
    pub word: String,
    pub tokens: Vec<u32>,
    pub start_secs: f64,
    pub end_secs: f64,
    pub probability: f32,
}

/// Splits `tokens` into words: at leading spaces and punctuation (OpenAI's
/// `split_tokens_on_spaces`), or at every complete character for languages written without
/// spaces. `decode` turns token ids into text.
pub(crate) fn split_words(
    tokens: &[u32],
    language: Option<&str>,
    decode: &dyn Fn(&[u32]) -> String,
) -> Vec<(String, Vec<u32>)> {
    let pieces = split_on_characters(tokens, decode);
    if language.is_some_and(|code| UNSPACED_LANGUAGES.contains(&code)) {
        return pieces;
    }
    let mut words: Vec<(String, Vec<u32>)> = Vec::new();
    for (text, ids) in pieces {
        let starts_word = text.starts_with(' ') || ASCII_PUNCTUATION.contains(text.trim());
        match words.last_mut() {
            Some(last) if !starts_word => {
                last.0.push_str(&text);
                last.1.extend(ids);
            }
            _ => words.push((text, ids)),
        }
    }
    words
}

/// Groups tokens so that each group decodes to whole characters (a character may span several
/// byte-level tokens), as OpenAI's `split_tokens_on_unicode`.
fn split_on_characters(
    tokens: &[u32],
    decode: &dyn Fn(&[u32]) -> String,
) -> Vec<(String, Vec<u32>)> {
    let mut pieces = Vec::new();
    let mut current = Vec::new();
    for (index, &token) in tokens.iter().enumerate() {
        current.push(token);
        let text = decode(&current);
        if !text.contains('\u{FFFD}') || index + 1 == tokens.len() {
            pieces.push((text, std::mem::take(&mut current)));
        }
    }
    pieces
}

/// Median of the non-zero word durations, capped at 0.7 s; 0 without any.
pub(crate) fn median_duration(words: &[AlignedWord]) -> f64 {
    let mut durations: Vec<f64> = words
        .iter()
        .map(|w| w.end_secs - w.start_secs)
        .filter(|&d| d != 0.0)
        .collect();
    if durations.is_empty() {
        return 0.0;
    }
    durations.sort_by(f64::total_cmp);
    let n = durations.len();
    let median = if n % 2 == 1 {
        durations[n / 2]
    } else {
        (durations[n / 2 - 1] + durations[n / 2]) / 2.0
    };
    median.min(MAX_MEDIAN_DURATION_SECS)
}

/// Shortens words longer than `max_duration_secs` next to a sentence end: a long mark is cut
/// at its end, a long word after a mark loses its start (it swallowed the pause).
pub(crate) fn clip_at_sentence_ends(words: &mut [AlignedWord], max_duration_secs: f64) {
    for i in 1..words.len() {
        if words[i].end_secs - words[i].start_secs <= max_duration_secs {
            continue;
        }
        if is_sentence_end(&words[i].word) {
            words[i].end_secs = words[i].start_secs + max_duration_secs;
        } else if is_sentence_end(&words[i - 1].word) {
            words[i].start_secs = words[i].end_secs - max_duration_secs;
        }
    }
}

fn is_sentence_end(word: &str) -> bool {
    !word.is_empty() && SENTENCE_END_MARKS.contains(word)
}

/// Joins opening punctuation to the next word and closing punctuation to the previous one,
/// leaving the emptied entries in place with no text and no tokens (OpenAI's
/// `merge_punctuations`, including its substring tests).
pub(crate) fn merge_punctuation(words: &mut [AlignedWord]) {
    if words.len() < 2 {
        return;
    }
    let mut following = words.len() - 1;
    for previous in (0..words.len() - 1).rev() {
        let word = &words[previous].word;
        if word.starts_with(' ') && PREPEND_PUNCTUATION.contains(word.trim()) {
            let moved = std::mem::take(&mut words[previous].word);
            let tokens = std::mem::take(&mut words[previous].tokens);
            let target = &mut words[following];
            target.word.insert_str(0, &moved);
            target.tokens.splice(0..0, tokens);
        } else {
            following = previous;
        }
    }
    let mut previous = 0;
    for following in 1..words.len() {
        let joins = !words[previous].word.ends_with(' ')
            && APPEND_PUNCTUATION.contains(words[following].word.as_str());
        if joins {
            let moved = std::mem::take(&mut words[following].word);
            let tokens = std::mem::take(&mut words[following].tokens);
            words[previous].word.push_str(&moved);
            words[previous].tokens.extend(tokens);
        } else {
            previous = following;
        }
    }
}

/// One segment's place on the timeline, for [`fit_to_segment`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct SegmentBounds {
    pub start_secs: f64,
    pub end_secs: f64,
}

/// Applies OpenAI's segment-boundary corrections to one segment's `words` (times already on
/// the original timeline), then keeps them in order inside the segment.
///
/// A first word that follows a long pause and is implausibly long (it swallowed the silence)
/// is cut to `max_duration` from its end; a first or last word reaching more than 0.5 s past
/// the segment's own timestamp takes the segment's edge. `last_speech_secs` is the end of the
/// previous segment's speech; returns this segment's.
pub(crate) fn fit_to_segment(
    words: &mut [AlignedWord],
    segment: SegmentBounds,
    median_duration_secs: f64,
    last_speech_secs: f64,
) -> f64 {
    let max_duration = median_duration_secs * 2.0;
    if words.is_empty() {
        return last_speech_secs;
    }
    let duration = |w: &AlignedWord| w.end_secs - w.start_secs;
    let first_too_long = duration(&words[0]) > max_duration
        || (words.len() > 1 && words[1].end_secs - words[0].start_secs > max_duration * 2.0);
    if words[0].end_secs - last_speech_secs > median_duration_secs * 4.0 && first_too_long {
        if words.len() > 1 && duration(&words[1]) > max_duration {
            let boundary = (words[1].end_secs / 2.0).max(words[1].end_secs - max_duration);
            words[0].end_secs = boundary;
            words[1].start_secs = boundary;
        }
        words[0].start_secs = (words[0].end_secs - max_duration).max(0.0);
    }
    if segment.start_secs < words[0].end_secs && segment.start_secs - 0.5 > words[0].start_secs {
        words[0].start_secs = (words[0].end_secs - median_duration_secs)
            .min(segment.start_secs)
            .max(0.0);
    }
    let last = words.len() - 1;
    if segment.end_secs > words[last].start_secs && segment.end_secs + 0.5 < words[last].end_secs {
        words[last].end_secs =
            (words[last].start_secs + median_duration_secs).max(segment.end_secs);
    }

    // Monotonic and inside the segment: each word starts no earlier than the previous ends.
    let ceiling = segment.end_secs.max(segment.start_secs);
    let mut floor = segment.start_secs;
    for word in words.iter_mut() {
        word.start_secs = word.start_secs.clamp(floor, ceiling);
        word.end_secs = word.end_secs.clamp(word.start_secs, ceiling);
        floor = word.end_secs;
    }
    words[last].end_secs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str, start_secs: f64, end_secs: f64) -> AlignedWord {
        AlignedWord {
            word: text.to_string(),
            tokens: vec![0],
            start_secs,
            end_secs,
            probability: 1.0,
        }
    }

    /// A toy vocabulary: token `i` is `VOCAB[i]`; ids 90-91 are the two UTF-8 halves of "é".
    fn decode(ids: &[u32]) -> String {
        const VOCAB: [&str; 8] = [" And", " so", ",", " my", " fel", "low", " Americans", "."];
        let mut bytes = Vec::new();
        for &id in ids {
            match id {
                90 => bytes.push(0xC3),
                91 => bytes.push(0xA9),
                _ => bytes.extend(VOCAB[id as usize].as_bytes()),
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn tokens_split_on_spaces_and_punctuation() {
        let words = split_words(&[0, 1, 2, 3, 4, 5, 6, 7], Some("en"), &decode);
        let texts: Vec<&str> = words.iter().map(|(w, _)| w.as_str()).collect();
        assert_eq!(
            texts,
            [" And", " so", ",", " my", " fellow", " Americans", "."]
        );
        assert_eq!(words[4].1, vec![4, 5]);
    }

    #[test]
    fn multi_token_characters_stay_whole() {
        let words = split_words(&[3, 90, 91, 5], None, &decode);
        assert_eq!(words, vec![(" myélow".to_string(), vec![3, 90, 91, 5])]);
        let characters = split_words(&[3, 90, 91, 5], Some("zh"), &decode);
        let texts: Vec<&str> = characters.iter().map(|(w, _)| w.as_str()).collect();
        assert_eq!(texts, [" my", "é", "low"]);
    }

    #[test]
    fn punctuation_joins_its_neighbours() {
        let mut words = vec![
            word(" \"", 0.0, 0.1),
            word("Ask", 0.1, 0.5),
            word(",", 0.5, 0.6),
            word(" not", 0.6, 0.9),
            word(".", 0.9, 1.0),
        ];
        merge_punctuation(&mut words);
        let texts: Vec<&str> = words.iter().map(|w| w.word.as_str()).collect();
        assert_eq!(texts, ["", " \"Ask,", "", " not.", ""]);
        assert_eq!(words[1].tokens.len(), 3);
    }

    #[test]
    fn long_words_after_a_sentence_end_lose_their_start() {
        let mut words = vec![
            word(" Hi", 0.0, 0.3),
            word(".", 0.3, 0.4),
            word(" So", 0.4, 3.0),
        ];
        clip_at_sentence_ends(&mut words, 0.6);
        assert!((words[2].start_secs - 2.4).abs() < 1e-9);
    }

    #[test]
    fn median_ignores_zero_durations_and_is_capped() {
        let words = [
            word(" a", 0.0, 0.2),
            word(" b", 0.2, 0.2),
            word(" c", 0.2, 0.6),
        ];
        assert!((median_duration(&words) - 0.3).abs() < 1e-9);
        assert!((median_duration(&[word(" a", 0.0, 5.0)]) - 0.7).abs() < 1e-9);
        assert_eq!(median_duration(&[]), 0.0);
    }

    #[test]
    fn words_are_kept_in_order_inside_the_segment() {
        let mut words = vec![
            word(" a", 0.8, 1.2),
            word(" b", 1.1, 1.5),
            word(" c", 1.6, 2.9),
        ];
        let bounds = SegmentBounds {
            start_secs: 1.0,
            end_secs: 2.0,
        };
        let end = fit_to_segment(&mut words, bounds, 0.4, 1.0);
        assert_eq!(end, 2.0);
        for pair in words.windows(2) {
            assert!(pair[0].end_secs <= pair[1].start_secs);
        }
        assert!(words[0].start_secs >= 1.0);
        assert!(
            words
                .iter()
                .all(|w| w.start_secs <= w.end_secs && w.end_secs <= 2.0)
        );
    }

    #[test]
    fn a_first_word_swallowing_a_pause_is_shortened() {
        let mut words = vec![word(" Well", 10.0, 14.0), word(" yes", 14.0, 14.3)];
        let bounds = SegmentBounds {
            start_secs: 10.0,
            end_secs: 15.0,
        };
        fit_to_segment(&mut words, bounds, 0.3, 9.0);
        assert!((words[0].start_secs - 13.4).abs() < 1e-9);
    }
}
