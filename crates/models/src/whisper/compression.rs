//! The compression-ratio test Whisper uses to spot repetition loops.
//!
//! A window whose text compresses much better than normal speech (ratio above 2.4 by default)
//! is almost always the decoder repeating itself, and is decoded again at a higher
//! temperature. The threshold was calibrated on Python's `zlib.compress` (level 6), so the
//! same zlib stream format and level are used here.

/// zlib's default level, which Python's `zlib.compress` uses.
const ZLIB_LEVEL: u8 = 6;

/// `len(text) / len(zlib(text))` over the UTF-8 bytes; 0 for empty text.
pub(crate) fn compression_ratio(text: &str) -> f32 {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return 0.0;
    }
    let compressed = miniz_oxide::deflate::compress_to_vec_zlib(bytes, ZLIB_LEVEL);
    bytes.len() as f32 / compressed.len().max(1) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repetition_compresses_well_and_speech_does_not() {
        let speech = " And so, my fellow Americans, ask not what your country can do for you, ask what you can do for your country.";
        assert!(
            compression_ratio(speech) < 2.0,
            "{}",
            compression_ratio(speech)
        );
        let loop_text = " I'm sorry.".repeat(30);
        assert!(
            compression_ratio(&loop_text) > 2.4,
            "{}",
            compression_ratio(&loop_text)
        );
        assert_eq!(compression_ratio(""), 0.0);
    }
}
