//! The receipt's layout: monospace text on an 80 mm roll, with a QR code of
//! our transaction reference that a manager can scan to find it in history.

use printpdf::{
    BuiltinFont, Color, Mm, Op, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, Point, Pt, Rect, Rgb, TextItem,
};
use qrcode::QrCode;

use super::{Receipt, ReceiptError};

const WIDTH_MM: f32 = 80.0;
const MARGIN_MM: f32 = 4.0;
const BODY_PT: f32 = 8.5;
/// Courier's advance is 0.6 em: characters per line at the body size.
const COLUMNS: usize = ((WIDTH_MM - 2.0 * MARGIN_MM) * 72.0 / 25.4 / (BODY_PT * 0.6)) as usize;
const QR_MM: f32 = 30.0;

/// One printed line: text, size, bold.
struct Line(String, f32, bool);

/// Thermal printers and the PDF base fonts speak Latin-1 at best: keep
/// receipts to printable ASCII so nothing turns into garbage.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '•' => '*',
            c if c.is_ascii_graphic() || c == ' ' => c,
            _ => '?',
        })
        .collect()
}

fn centred(s: &str, width: usize) -> String {
    let s: String = printable(s).chars().take(width).collect();
    format!("{:^width$}", s, width = width)
}

fn pair(label: &str, value: &str) -> Vec<String> {
    let value = printable(value);
    if label.len() + 1 + value.len() <= COLUMNS {
        vec![format!("{label}{value:>w$}", w = COLUMNS - label.len())]
    } else {
        // Long values wrap onto lines of their own.
        let mut lines = vec![label.to_string()];
        let chars: Vec<char> = value.chars().collect();
        lines.extend(chars.chunks(COLUMNS - 2).map(|c| format!("  {}", c.iter().collect::<String>())));
        lines
    }
}

fn lines(r: &Receipt) -> Vec<Line> {
    let rule = "-".repeat(COLUMNS);
    let body = |s: String| Line(s, BODY_PT, false);
    let mut out = vec![Line(centred(&r.store_name, COLUMNS * 85 / 110), 11.0, true)];
    if r.training {
        out.push(Line(centred("*** TRAINING - NOT A REAL SALE ***", COLUMNS), BODY_PT, true));
    }
    if r.reprint {
        out.push(Line(centred("*** REPRINT ***", COLUMNS), BODY_PT, true));
    }
    out.push(body(rule.clone()));
    out.push(Line(centred(&r.title, COLUMNS * 85 / 100), 10.0, true));
    out.push(body(rule.clone()));
    for (label, value) in [
        ("Date", Some(r.local_time.clone())),
        ("Till", Some(r.till_id.clone())),
        ("Cashier", Some(r.cashier.clone())),
        ("Provider", Some(r.provider.clone())),
        ("Voucher", r.code_masked.clone()),
        ("Customer", r.customer_name.clone()),
    ] {
        if let Some(value) = value {
            out.extend(pair(label, &value).into_iter().map(body));
        }
    }
    for (label, value) in &r.details {
        out.extend(pair(label, value).into_iter().map(body));
    }
    out.push(body(rule.clone()));
    if let Some(amount) = r.amount {
        out.push(Line(printable(&format!("AMOUNT {amount}")), 12.0, true));
    }
    out.push(body(rule));
    out.push(body(centred("Our reference", COLUMNS)));
    out.push(body(centred(&r.transaction_id, COLUMNS)));
    out
}

fn black() -> Color {
    Color::Rgb(Rgb { r: 0.0, g: 0.0, b: 0.0, icc_profile: None })
}

/// The PDF and its page height in millimetres (the roll is cut to fit).
pub fn render(r: &Receipt) -> Result<(Vec<u8>, f32), ReceiptError> {
    let lines = lines(r);
    let line_gap = |size: f32| size * 1.35;
    let text_height_pt: f32 = lines.iter().map(|l| line_gap(l.1)).sum();
    let mm_per_pt = 25.4 / 72.0;
    let height_mm = MARGIN_MM * 4.0 + text_height_pt * mm_per_pt + QR_MM + 10.0;

    let mut ops = vec![Op::SetFillColor { col: black() }];
    let mut y = Pt::from(Mm(height_mm - MARGIN_MM)).0;
    let x = Pt::from(Mm(MARGIN_MM)).0;
    for Line(text, size, bold) in &lines {
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

    let qr = QrCode::new(r.transaction_id.as_bytes()).map_err(|e| ReceiptError::Layout(e.to_string()))?;
    let modules = qr.width();
    let colors = qr.to_colors();
    let size_pt = Pt::from(Mm(QR_MM)).0;
    let cell = size_pt / modules as f32;
    let left = (Pt::from(Mm(WIDTH_MM)).0 - size_pt) / 2.0;
    let top = y - Pt::from(Mm(MARGIN_MM)).0;
    for row in 0..modules {
        // One rectangle per run of dark modules keeps the PDF small and fast.
        let mut col = 0;
        while col < modules {
            if colors[row * modules + col] != qrcode::Color::Dark {
                col += 1;
                continue;
            }
            let start = col;
            while col < modules && colors[row * modules + col] == qrcode::Color::Dark {
                col += 1;
            }
            ops.push(Op::DrawRectangle {
                rectangle: Rect {
                    x: Pt(left + start as f32 * cell),
                    y: Pt(top - (row + 1) as f32 * cell),
                    width: Pt((col - start) as f32 * cell),
                    height: Pt(cell),
                    mode: Some(printpdf::PaintMode::Fill),
                    winding_order: Some(printpdf::WindingOrder::NonZero),
                },
            });
        }
    }

    let title = format!("Receipt {}", r.transaction_id);
    let mut doc = PdfDocument::new(&title);
    doc.with_pages(vec![PdfPage::new(Mm(WIDTH_MM), Mm(height_mm), ops)]);
    let mut warnings = Vec::new();
    Ok((doc.save(&PdfSaveOptions::default(), &mut warnings), height_mm))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::{Currency, Money};

    pub(crate) fn sample() -> Receipt {
        Receipt {
            store_name: "Duka la Mama Njeri".into(),
            till_id: "TILL-1".into(),
            cashier: "Amina".into(),
            local_time: "25 Nov 2026 20:15".into(),
            title: "VOUCHER REDEEMED".into(),
            provider: "PesaVoucher".into(),
            code_masked: Some("•••-••••••••••••NISE".into()),
            customer_name: Some("Jane Doe".into()),
            amount: Some(Money::new(75_000, Currency::KES)),
            details: vec![("Redeemed at".into(), "2025-11-21 14:22:10".into())],
            transaction_id: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into(),
            training: true,
            reprint: false,
        }
    }

    #[test]
    fn a_receipt_is_a_pdf_with_what_the_customer_needs() {
        let (pdf, height) = render(&sample()).unwrap();
        assert!(height > 60.0 && height < 200.0, "{height}");
        assert!(pdf.starts_with(b"%PDF-"));
        let text: String = lines(&sample()).iter().map(|l| l.0.clone() + "\n").collect();
        assert!(text.contains("AMOUNT KES 750.00"));
        assert!(text.contains("TRAINING"));
        assert!(text.contains("***-************NISE"), "{text}");
        assert!(!text.contains("DTUM"));
        assert!(text.contains("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"));
    }

    #[test]
    fn nothing_runs_past_the_paper() {
        let mut r = sample();
        r.customer_name = Some("Wanjirũ wa Kamau na Familia Yake Yote ya Nyeri na Nairobi".into());
        for line in lines(&r) {
            let width = (line.0.chars().count() as f32) * line.1 * 0.6 * 25.4 / 72.0;
            assert!(width <= WIDTH_MM - 2.0 * MARGIN_MM + 0.01, "{} is {width} mm", line.0);
            assert!(line.0.is_ascii());
        }
    }
}
