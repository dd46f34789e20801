//! Text normalisation for word error rate: the same sentence written two ways yields the same
//! words.

/// Splits `text` into normalised words:
///
/// - lower-cased; `’` and `‘` read as `'`;
/// - punctuation becomes a word break, except an apostrophe inside a word (`don't`), a decimal
///   point (`3.5`), a thousands comma (`1,000` → `1000`) and a dot between letters
///   (`U.S.A.` → `usa`); so hyphenated and slashed words split (`twenty-five` → `twenty five`);
/// - `%` reads as `percent` and `&` as `and`;
/// - numbers go from digits to words, the direction speech models disagree on most: whole
///   numbers 0–100 (`25` → `twenty five`) and ordinals up to 100th (`3rd` → `third`,
///   `21st` → `twenty first`); larger numbers and ones with leading zeros stay as digits;
/// - `mr` → `mister`, `mrs` → `missus`.
pub fn normalize_text(text: &str) -> Vec<String> {
    strip_punctuation(&text.to_lowercase())
        .split_whitespace()
        .flat_map(spell_word)
        .collect()
}

/// Replaces punctuation with spaces, keeping the in-word marks listed on [`normalize_text`].
fn strip_punctuation(text: &str) -> String {
    let chars: Vec<char> = text
        .chars()
        .map(|c| if matches!(c, '’' | '‘') { '\'' } else { c })
        .collect();
    let mut cleaned = String::with_capacity(text.len());
    for (index, &c) in chars.iter().enumerate() {
        let before = index
            .checked_sub(1)
            .and_then(|previous| chars.get(previous))
            .copied();
        let after = chars.get(index + 1).copied();
        let between = |test: fn(char) -> bool| before.is_some_and(test) && after.is_some_and(test);
        match c {
            c if c.is_alphanumeric() => cleaned.push(c),
            '\'' if between(char::is_alphanumeric) => cleaned.push(c),
            '.' if between(|c| c.is_ascii_digit()) => cleaned.push(c),
            ',' if between(|c| c.is_ascii_digit()) => {}
            '.' if between(char::is_alphabetic) => {}
            '%' => cleaned.push_str(" percent "),
            '&' => cleaned.push_str(" and "),
            _ => cleaned.push(' '),
        }
    }
    cleaned
}

/// One normalised token as one or more words: numbers spelled out, titles expanded.
fn spell_word(word: &str) -> Vec<String> {
    let spelled: Vec<&str> = match word {
        "mr" => vec!["mister"],
        "mrs" => vec!["missus"],
        _ => {
            let ordinal = ["st", "nd", "rd", "th"]
                .iter()
                .find_map(|suffix| word.strip_suffix(suffix));
            if let Some(number) = small_number(word) {
                cardinal(number)
            } else if let Some(number) = ordinal.and_then(small_number) {
                ordinal_words(number)
            } else {
                vec![word]
            }
        }
    };
    spelled.into_iter().map(str::to_owned).collect()
}

/// Digits without a leading zero (or `0` itself) whose value is at most 100.
fn small_number(digits: &str) -> Option<usize> {
    let canonical = digits == "0" || !digits.starts_with('0');
    if !canonical
        || digits.is_empty()
        || digits.len() > 3
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    digits.parse().ok().filter(|number| *number <= 100)
}

const ONES: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];
const ORDINAL_ONES: [&str; 20] = [
    "zeroth",
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
];
const ORDINAL_TENS: [&str; 10] = [
    "",
    "",
    "twentieth",
    "thirtieth",
    "fortieth",
    "fiftieth",
    "sixtieth",
    "seventieth",
    "eightieth",
    "ninetieth",
];

/// `number` (0–100) in words; [`small_number`] guarantees the range.
fn cardinal(number: usize) -> Vec<&'static str> {
    match number {
        0..20 => vec![ONES[number]],
        20..100 if number.is_multiple_of(10) => vec![TENS[number / 10]],
        20..100 => vec![TENS[number / 10], ONES[number % 10]],
        _ => vec!["one", "hundred"],
    }
}

/// `number` (0–100) as an ordinal in words.
fn ordinal_words(number: usize) -> Vec<&'static str> {
    match number {
        0..20 => vec![ORDINAL_ONES[number]],
        20..100 if number.is_multiple_of(10) => vec![ORDINAL_TENS[number / 10]],
        20..100 => vec![TENS[number / 10], ORDINAL_ONES[number % 10]],
        _ => vec!["one", "hundredth"],
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        normalize_text(text)
    }

    #[test]
    fn normalises_case_punctuation_and_whitespace() {
        assert_eq!(
            words("  Hello,   WORLD!\n\"Quoted\" (aside)... "),
            ["hello", "world", "quoted", "aside"]
        );
    }

    #[test]
    fn keeps_apostrophes_inside_words_only() {
        assert_eq!(
            words("Don't say 'yes' — it’s the dogs' bowl"),
            ["don't", "say", "yes", "it's", "the", "dogs", "bowl"]
        );
    }

    #[test]
    fn splits_hyphenated_and_slashed_words() {
        assert_eq!(
            words("state-of-the-art and/or"),
            ["state", "of", "the", "art", "and", "or"]
        );
    }

    #[test]
    fn spells_small_numbers_and_ordinals() {
        assert_eq!(
            words("0 7 13 20 25 100"),
            [
                "zero", "seven", "thirteen", "twenty", "twenty", "five", "one", "hundred"
            ]
        );
        assert_eq!(
            words("1st 2nd 3rd 12th 21st 40th 100th"),
            [
                "first",
                "second",
                "third",
                "twelfth",
                "twenty",
                "first",
                "fortieth",
                "one",
                "hundredth"
            ]
        );
        assert_eq!(words("twenty-five"), words("25"));
    }

    #[test]
    fn leaves_large_and_zero_padded_numbers_as_digits() {
        assert_eq!(
            words("101 2024 007 1000th"),
            ["101", "2024", "007", "1000th"]
        );
    }

    #[test]
    fn keeps_decimals_joins_thousands_and_abbreviations() {
        assert_eq!(words("3.5 1,000 U.S.A. e.g."), ["3.5", "1000", "usa", "eg"]);
    }

    #[test]
    fn reads_symbols_and_titles() {
        assert_eq!(words("50% R&D"), ["fifty", "percent", "r", "and", "d"]);
        assert_eq!(
            words("Mr. and Mrs. Smith"),
            ["mister", "and", "missus", "smith"]
        );
    }
}
