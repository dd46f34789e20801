//! Guessing from a file's first bytes and extension whether it is audio or video at all, so an
//! unsupported file gets the right advice: "install ffmpeg" for a media file symphonia cannot
//! read, "not audio" for a text file or a picture.

use std::path::Path;

/// Bytes of the file's start that [`looks_like_media`] inspects.
pub(crate) const SNIFF_LEN: usize = 256;

/// Extensions of audio and video formats, lowercase, including those only ffmpeg decodes.
const MEDIA_EXTENSIONS: &[&str] = &[
    "3gp", "aac", "ac3", "aif", "aifc", "aiff", "alac", "amr", "ape", "asf", "au", "avi", "caf",
    "dts", "eac3", "f4a", "f4v", "flac", "flv", "m2ts", "m4a", "m4b", "m4v", "mka", "mkv", "mov",
    "mp1", "mp2", "mp3", "mp4", "mpeg", "mpg", "mts", "oga", "ogg", "ogv", "opus", "ra", "rm",
    "snd", "spx", "ts", "voc", "w64", "wav", "weba", "webm", "wma", "wmv", "wv",
];

/// Leading signatures (at offset 0) of audio and video containers.
const MEDIA_MAGIC: &[&[u8]] = &[
    b"RIFF",             // WAV, AVI
    b"RF64",             // 64-bit WAV
    b"FORM",             // AIFF
    b"OggS",             // Ogg (vorbis, opus, flac, theora)
    b"fLaC",             // FLAC
    b"ID3",              // MP3 with ID3v2 tag
    b"\x1A\x45\xDF\xA3", // EBML: Matroska, WebM
    b"\x30\x26\xB2\x75", // ASF: WMA, WMV
    b"#!AMR",            // AMR
    b"caff",             // Core Audio Format
    b".snd",             // Sun/NeXT audio
    b"FLV",              // Flash video
    b"MAC ",             // Monkey's Audio
    b"wvpk",             // WavPack
    b".RMF",             // RealMedia
    b"\x00\x00\x01\xBA", // MPEG program stream
    b"\x00\x00\x01\xB3", // MPEG video
];

/// True when `header` (the file's first bytes) or the path's extension suggests audio or video.
pub(crate) fn looks_like_media(path: &Path, header: &[u8]) -> bool {
    let extension_is_media = path
        .extension()
        .and_then(|extension| extension.to_str())
        .is_some_and(|extension| {
            MEDIA_EXTENSIONS
                .iter()
                .any(|known| known.eq_ignore_ascii_case(extension))
        });
    extension_is_media || header_is_media(header)
}

/// True when `header` starts with the signature of an audio or video container.
pub(crate) fn header_is_media(header: &[u8]) -> bool {
    if MEDIA_MAGIC.iter().any(|magic| header.starts_with(magic)) {
        return true;
    }
    // ISO base media (MP4, M4A, MOV, 3GP): a box size, then `ftyp`.
    if header.get(4..8) == Some(b"ftyp".as_slice()) {
        return true;
    }
    // MPEG audio frame sync (11 set bits) or ADTS AAC sync (12 set bits).
    if let [first, second, ..] = header
        && *first == 0xFF
        && second & 0xE0 == 0xE0
    {
        return true;
    }
    // MPEG transport stream: sync byte every 188 bytes.
    header.first() == Some(&0x47) && header.get(188) == Some(&0x47)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::looks_like_media;

    #[test]
    fn recognises_media_by_magic_or_extension() {
        let unnamed = Path::new("upload");
        assert!(looks_like_media(unnamed, b"OggS\x00\x02"));
        assert!(looks_like_media(unnamed, b"\x1A\x45\xDF\xA3\x01"));
        assert!(looks_like_media(unnamed, b"\x00\x00\x00\x20ftypM4A "));
        assert!(looks_like_media(unnamed, &[0xFF, 0xFB, 0x90, 0x00]));
        assert!(looks_like_media(Path::new("talk.OPUS"), b"garbage"));
    }

    #[test]
    fn rejects_text_and_images() {
        let unnamed = Path::new("upload");
        assert!(!looks_like_media(unnamed, b"hello, this is a text file"));
        assert!(!looks_like_media(
            unnamed,
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"
        ));
        assert!(!looks_like_media(
            Path::new("notes.txt"),
            b"{\"json\": true}"
        ));
    }
}
