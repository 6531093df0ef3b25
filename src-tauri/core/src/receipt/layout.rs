//! The receipt's layout: monospace text on an 80 mm roll, with a QR code of
//! our transaction reference that a manager can scan to find it in history.

use printpdf::{Mm, Op, Pt, Rect};
use qrcode::QrCode;

use super::roll::{
    BODY_PT, COLUMNS, Line, MARGIN_MM, WIDTH_MM, centred, pair, pdf, printable, rule, text_height_mm, text_ops,
};
use super::{Receipt, ReceiptError};

const QR_MM: f32 = 30.0;

fn lines(r: &Receipt) -> Vec<Line> {
    let rule = rule();
    let body = Line::body;
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

/// The PDF and its page height in millimetres (the roll is cut to fit).
pub fn render(r: &Receipt) -> Result<(Vec<u8>, f32), ReceiptError> {
    let lines = lines(r);
    let height_mm = MARGIN_MM * 4.0 + text_height_mm(&lines) + QR_MM + 10.0;
    let (mut ops, y) = text_ops(&lines, height_mm);

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
    Ok((pdf(&title, height_mm, ops), height_mm))
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
