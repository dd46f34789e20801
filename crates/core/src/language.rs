//! Whisper's languages: ISO-639-1 code, English name (OpenAI's `verbose_json` reports the name)
//! and ISO-639-3 code (ElevenLabs reports that).

/// `(ISO-639-1, English name, ISO-639-3)` for every language Whisper knows, in Whisper's order.
const LANGUAGES: &[(&str, &str, &str)] = &[
    ("en", "english", "eng"),
    ("zh", "chinese", "zho"),
    ("de", "german", "deu"),
    ("es", "spanish", "spa"),
    ("ru", "russian", "rus"),
    ("ko", "korean", "kor"),
    ("fr", "french", "fra"),
    ("ja", "japanese", "jpn"),
    ("pt", "portuguese", "por"),
    ("tr", "turkish", "tur"),
    ("pl", "polish", "pol"),
    ("ca", "catalan", "cat"),
    ("nl", "dutch", "nld"),
    ("ar", "arabic", "ara"),
    ("sv", "swedish", "swe"),
    ("it", "italian", "ita"),
    ("id", "indonesian", "ind"),
    ("hi", "hindi", "hin"),
    ("fi", "finnish", "fin"),
    ("vi", "vietnamese", "vie"),
    ("he", "hebrew", "heb"),
    ("uk", "ukrainian", "ukr"),
    ("el", "greek", "ell"),
    ("ms", "malay", "msa"),
    ("cs", "czech", "ces"),
    ("ro", "romanian", "ron"),
    ("da", "danish", "dan"),
    ("hu", "hungarian", "hun"),
    ("ta", "tamil", "tam"),
    ("no", "norwegian", "nor"),
    ("th", "thai", "tha"),
    ("ur", "urdu", "urd"),
    ("hr", "croatian", "hrv"),
    ("bg", "bulgarian", "bul"),
    ("lt", "lithuanian", "lit"),
    ("la", "latin", "lat"),
    ("mi", "maori", "mri"),
    ("ml", "malayalam", "mal"),
    ("cy", "welsh", "cym"),
    ("sk", "slovak", "slk"),
    ("te", "telugu", "tel"),
    ("fa", "persian", "fas"),
    ("lv", "latvian", "lav"),
    ("bn", "bengali", "ben"),
    ("sr", "serbian", "srp"),
    ("az", "azerbaijani", "aze"),
    ("sl", "slovenian", "slv"),
    ("kn", "kannada", "kan"),
    ("et", "estonian", "est"),
    ("mk", "macedonian", "mkd"),
    ("br", "breton", "bre"),
    ("eu", "basque", "eus"),
    ("is", "icelandic", "isl"),
    ("hy", "armenian", "hye"),
    ("ne", "nepali", "nep"),
    ("mn", "mongolian", "mon"),
    ("bs", "bosnian", "bos"),
    ("kk", "kazakh", "kaz"),
    ("sq", "albanian", "sqi"),
    ("sw", "swahili", "swa"),
    ("gl", "galician", "glg"),
    ("mr", "marathi", "mar"),
    ("pa", "punjabi", "pan"),
    ("si", "sinhala", "sin"),
    ("km", "khmer", "khm"),
    ("sn", "shona", "sna"),
    ("yo", "yoruba", "yor"),
    ("so", "somali", "som"),
    ("af", "afrikaans", "afr"),
    ("oc", "occitan", "oci"),
    ("ka", "georgian", "kat"),
    ("be", "belarusian", "bel"),
    ("tg", "tajik", "tgk"),
    ("sd", "sindhi", "snd"),
    ("gu", "gujarati", "guj"),
    ("am", "amharic", "amh"),
    ("yi", "yiddish", "yid"),
    ("lo", "lao", "lao"),
    ("uz", "uzbek", "uzb"),
    ("fo", "faroese", "fao"),
    ("ht", "haitian creole", "hat"),
    ("ps", "pashto", "pus"),
    ("tk", "turkmen", "tuk"),
    ("nn", "nynorsk", "nno"),
    ("mt", "maltese", "mlt"),
    ("sa", "sanskrit", "san"),
    ("lb", "luxembourgish", "ltz"),
    ("my", "myanmar", "mya"),
    ("bo", "tibetan", "bod"),
    ("tl", "tagalog", "tgl"),
    ("mg", "malagasy", "mlg"),
    ("as", "assamese", "asm"),
    ("tt", "tatar", "tat"),
    ("haw", "hawaiian", "haw"),
    ("ln", "lingala", "lin"),
    ("ha", "hausa", "hau"),
    ("ba", "bashkir", "bak"),
    ("jw", "javanese", "jav"),
    ("su", "sundanese", "sun"),
    ("yue", "cantonese", "yue"),
];

/// Every Whisper language code, in Whisper's order (what a multilingual model knows).
pub fn whisper_codes() -> impl Iterator<Item = &'static str> {
    LANGUAGES.iter().map(|(iso1, _, _)| *iso1)
}

/// The English name of a Whisper language code (`"en"` → `"english"`).
pub fn english_name(code: &str) -> Option<&'static str> {
    LANGUAGES
        .iter()
        .find(|(iso1, _, _)| *iso1 == code)
        .map(|(_, name, _)| *name)
}

/// The ISO-639-3 code of a Whisper language code (`"en"` → `"eng"`).
pub fn iso_639_3(code: &str) -> Option<&'static str> {
    LANGUAGES
        .iter()
        .find(|(iso1, _, _)| *iso1 == code)
        .map(|(_, _, iso3)| *iso3)
}

/// Accepts a Whisper code, an ISO-639-3 code or an English name and returns the Whisper code.
pub fn normalize(input: &str) -> Option<&'static str> {
    let input = input.trim().to_ascii_lowercase();
    LANGUAGES
        .iter()
        .find(|(iso1, name, iso3)| *iso1 == input || *iso3 == input || *name == input)
        .map(|(iso1, _, _)| *iso1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_map_both_ways() {
        assert_eq!(LANGUAGES.len(), 100);
        assert_eq!(english_name("en"), Some("english"));
        assert_eq!(iso_639_3("de"), Some("deu"));
        assert_eq!(normalize("eng"), Some("en"));
        assert_eq!(normalize("German"), Some("de"));
        assert_eq!(normalize("yue"), Some("yue"));
        assert_eq!(normalize("klingon"), None);
    }
}
