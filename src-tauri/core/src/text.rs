//! Quoting untrusted text (what a person typed, a file held, a provider
//! sent) back in a message: short, one line, and unable to steer a terminal
//! or reorder the sentence around it.

/// How much of a typed value an error message quotes: enough to recognise
/// it, too little to carry a paste back.
pub const SHORT: usize = 24;

/// At most `max` characters of `input` for a message, never the whole of a
/// long paste. Line breaks and tabs become spaces; other control characters
/// (NUL, ESC …) and bidirectional overrides become '�'. A cut is marked '…'.
pub fn excerpt(input: &str, max: usize) -> String {
    let mut out: String = input.chars().take(max).map(clean).collect();
    if input.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

fn clean(c: char) -> char {
    match c {
        '\n' | '\r' | '\t' => ' ',
        // Bidirectional embeddings, overrides and isolates: they would
        // reverse the words around the quote on screen.
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => '\u{fffd}',
        c if c.is_control() => '\u{fffd}',
        c => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_short_one_line_and_free_of_controls() {
        assert_eq!(excerpt("07123\u{0}45", SHORT), "07123\u{fffd}45");
        assert_eq!(excerpt("\u{7}\u{1b}[31m07\r\n12", SHORT), "\u{fffd}\u{fffd}[31m07  12");
        assert_eq!(excerpt("\u{202e}0712", SHORT), "\u{fffd}0712");
        assert_eq!(excerpt(&"7".repeat(1 << 20), 5), "77777…");
        assert_eq!(excerpt("12345", 5), "12345");
        assert_eq!(excerpt("", 5), "");
        assert!(!excerpt("a\u{85}b\u{9b}c", SHORT).chars().any(char::is_control));
    }
}
