//! The 80 mm roll: lines of monospace text laid out on one PDF page cut to
//! fit. Receipts and shift reports are both printed on it.

use printpdf::{
    BuiltinFont, Color, Mm, Op, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, Point, Pt, Rgb, TextItem,
};

pub(crate) const WIDTH_MM: f32 = 80.0;
pub(crate) const MARGIN_MM: f32 = 4.0;
pub(crate) const BODY_PT: f32 = 8.5;
/// Courier's advance is 0.6 em: characters per line at the body size.
pub(crate) const COLUMNS: usize = ((WIDTH_MM - 2.0 * MARGIN_MM) * 72.0 / 25.4 / (BODY_PT * 0.6)) as usize;

/// One printed line: text, size, bold.
pub(crate) struct Line(pub String, pub f32, pub bool);

impl Line {
    pub(crate) fn body(text: String) -> Line {
        Line(text, BODY_PT, false)
    }
}

/// Thermal printers and the PDF base fonts speak Latin-1 at best: keep
/// the roll to printable ASCII so nothing turns into garbage. Letters are
/// transliterated (a name "Zoë Wanjirũ" prints "Zoe Wanjiru"); anything
/// else outside ASCII (emoji, symbols, control characters) prints '?'.
pub(crate) fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '•' => out.push('*'),
            '—' | '–' => out.push('-'),
            c if c.is_ascii_graphic() || c == ' ' => out.push(c),
            c if c.is_alphabetic() => match deunicode::deunicode_char(c) {
                Some(t) if !t.trim().is_empty() && t.chars().all(|t| t.is_ascii_graphic() || t == ' ') => {
                    out.push_str(t.trim_end())
                }
                _ => out.push('?'),
            },
            _ => out.push('?'),
        }
    }
    out
}

pub(crate) fn centred(s: &str, width: usize) -> String {
    let s: String = printable(s).chars().take(width).collect();
    format!("{:^width$}", s, width = width)
}

/// A label on the left, its value on the right; a long value wraps onto
/// lines of its own.
pub(crate) fn pair(label: &str, value: &str) -> Vec<String> {
    let label = printable(label);
    let value = printable(value);
    if label.len() + 1 + value.len() <= COLUMNS {
        vec![format!("{label}{value:>w$}", w = COLUMNS - label.len())]
    } else {
        let mut lines = vec![label.chars().take(COLUMNS).collect()];
        let chars: Vec<char> = value.chars().collect();
        lines.extend(chars.chunks(COLUMNS - 2).map(|c| format!("  {}", c.iter().collect::<String>())));
        lines
    }
}

/// `text` in lines of the roll's width, broken between words; lines after
/// the first indented by two.
pub(crate) fn wrapped(text: &str) -> Vec<String> {
    let width = |done: &Vec<String>| if done.is_empty() { COLUMNS } else { COLUMNS - 2 };
    let mut out: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in printable(text).split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width(&out) {
            out.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
        // A word longer than a whole line is cut (printable text is ASCII).
        while line.len() > width(&out) {
            let rest = line.split_off(width(&out));
            out.push(std::mem::replace(&mut line, rest));
        }
    }
    if !line.is_empty() || out.is_empty() {
        out.push(line);
    }
    out.into_iter().enumerate().map(|(i, l)| if i == 0 { l } else { format!("  {l}") }).collect()
}

pub(crate) fn rule() -> String {
    "-".repeat(COLUMNS)
}

pub(crate) fn black() -> Color {
    Color::Rgb(Rgb { r: 0.0, g: 0.0, b: 0.0, icc_profile: None })
}

fn line_gap(size: f32) -> f32 {
    size * 1.35
}

/// The height the lines take, in millimetres.
pub(crate) fn text_height_mm(lines: &[Line]) -> f32 {
    lines.iter().map(|l| line_gap(l.1)).sum::<f32>() * 25.4 / 72.0
}

/// Draws the lines from the top margin of a page `height_mm` tall; returns
/// the operations and the last baseline (points from the bottom).
pub(crate) fn text_ops(lines: &[Line], height_mm: f32) -> (Vec<Op>, f32) {
    let mut ops = vec![Op::SetFillColor { col: black() }];
    let mut y = Pt::from(Mm(height_mm - MARGIN_MM)).0;
    let x = Pt::from(Mm(MARGIN_MM)).0;
    for Line(text, size, bold) in lines {
        y -= line_gap(*size);
        let font = if *bold { BuiltinFont::CourierBold } else { BuiltinFont::Courier };
        ops.extend([
            Op::StartTextSection,
            Op::SetFont { font: PdfFontHandle::Builtin(font), size: Pt(*size) },
            Op::SetTextCursor { pos: Point { x: Pt(x), y: Pt(y) } },
            Op::ShowText { items: vec![TextItem::Text(text.clone())] },
            Op::EndTextSection,
        ]);
    }
    (ops, y)
}

/// One roll-wide page of `height_mm`, as PDF bytes.
pub(crate) fn pdf(title: &str, height_mm: f32, ops: Vec<Op>) -> Vec<u8> {
    let mut doc = PdfDocument::new(title);
    doc.with_pages(vec![PdfPage::new(Mm(WIDTH_MM), Mm(height_mm), ops)]);
    let mut warnings = Vec::new();
    doc.save(&PdfSaveOptions::default(), &mut warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_accents_print_as_letters_not_question_marks() {
        assert_eq!(printable("Zoë Wanjirũ"), "Zoe Wanjiru");
        assert_eq!(printable("Ñandú Ólafsdóttir"), "Nandu Olafsdottir");
        assert_eq!(printable("Straße"), "Strasse");
    }

    #[test]
    fn what_is_not_a_letter_prints_as_a_question_mark() {
        assert_eq!(printable("Amina 💳"), "Amina ?");
        assert_eq!(printable("a\u{0}b\u{1b}[31mc\r\n"), "a?b?[31mc??");
        assert_eq!(printable("KES • 1,500 — paid"), "KES * 1,500 - paid");
    }

    #[test]
    fn the_roll_is_printable_ascii_whatever_it_is_given() {
        for s in ["北京 ✓", "\u{202e}RTL\u{202c}", "A\u{0301}B\u{0308}", "Ελληνικά", "Кириллица", "عربي"]
        {
            let p = printable(s);
            assert!(p.chars().all(|c| c.is_ascii_graphic() || c == ' '), "{s:?} -> {p:?}");
            for line in wrapped(&s.repeat(20)) {
                assert!(line.len() <= COLUMNS, "{line:?}");
            }
        }
    }
}
