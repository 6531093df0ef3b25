//! The manager's history report on the 80 mm roll, laid out like the X and
//! Z reports: who, where, when, the filter, the totals per currency and the
//! groups by provider and state. Never the rows: those are the CSV's.

use std::path::Path;

use super::ReceiptError;
use super::report::{currency_lines, group_lines, heading};
use super::roll::{BODY_PT, COLUMNS, Line, MARGIN_MM, centred, pair, pdf, rule, text_height_mm, text_ops, wrapped};
use crate::history_report::HistoryReport;

pub(crate) fn lines(r: &HistoryReport) -> Vec<Line> {
    let body = Line::body;
    let mut out = vec![Line(centred(&r.store_name, COLUMNS * 85 / 110), 11.0, true)];
    if r.training {
        out.push(Line(centred("*** TRAINING INCLUDED ***", COLUMNS), BODY_PT, true));
    }
    out.push(body(rule()));
    out.push(Line(centred("HISTORY REPORT", COLUMNS * 85 / 100), 10.0, true));
    out.push(body(rule()));
    for (label, value) in [
        ("Till", r.till_id.clone()),
        ("Exported by", r.exported_by.clone()),
        ("Exported", crate::redeem::local_time(&r.at)),
        ("Transactions", r.count.to_string()),
    ] {
        out.extend(pair(label, &value).into_iter().map(body));
    }

    heading(&mut out, "FILTER");
    for part in r.filter.split("; ") {
        out.extend(wrapped(part).into_iter().map(body));
    }

    heading(&mut out, "TOTALS BY CURRENCY");
    if r.by_currency.is_empty() {
        out.push(body("No transactions match the filter".into()));
    }
    currency_lines(&mut out, &r.by_currency, "");

    heading(&mut out, "BY PROVIDER AND STATUS");
    group_lines(&mut out, &r.by_provider);

    out.push(body(rule()));
    out.push(body("Open: pending or unknown, not final".into()));
    out.push(body("Each transaction: export the CSV".into()));
    out
}

/// The PDF and its page height in millimetres (the roll is cut to fit).
pub fn render(r: &HistoryReport) -> (Vec<u8>, f32) {
    let lines = lines(r);
    let height_mm = MARGIN_MM * 3.0 + text_height_mm(&lines);
    let (ops, _) = text_ops(&lines, height_mm);
    (pdf(&format!("History report {}", r.till_id), height_mm, ops), height_mm)
}

/// Writes the PDF to `path`, under a `.part` name until it is complete, so
/// a half-written file never carries the final name; returns the page
/// height in millimetres.
pub fn save(r: &HistoryReport, path: &Path) -> Result<f32, ReceiptError> {
    let (bytes, height_mm) = render(r);
    let part = path.with_extension("pdf.part");
    let saved = std::fs::write(&part, bytes).and_then(|()| std::fs::rename(&part, path));
    saved.map_err(|source| {
        let _ = std::fs::remove_file(&part);
        ReceiptError::Save { path: path.to_path_buf(), source }
    })?;
    Ok(height_mm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::history::{HistoryFilter, HistoryTotals, TimeBound, TotalsGroup};
    use crate::receipt::report::tests::sample;
    use crate::shift::ReportKind;

    fn report(filter: &HistoryFilter, totals: &HistoryTotals) -> HistoryReport {
        let at = "2026-11-25T14:00:00.000Z".to_string();
        HistoryReport::new("Duka la Mama Njeri", "TILL-1", "Mama Njeri", at, filter, totals)
    }

    /// The shift report's sample groups: two currencies, four providers;
    /// with `training`, each again as training.
    fn totals(training: bool) -> HistoryTotals {
        let shift = sample(ReportKind::X, false);
        let mut groups: Vec<_> = shift.by_provider.iter().map(|g| g.group.clone()).collect();
        if training {
            groups.extend(groups.clone().into_iter().map(|g| TotalsGroup { training: true, ..g }));
        }
        HistoryTotals::from_groups(groups).unwrap()
    }

    fn sample_totals() -> HistoryTotals {
        totals(false)
    }

    fn fits_the_paper(r: &HistoryReport) {
        for line in lines(r) {
            let width = (line.0.chars().count() as f32) * line.1 * 0.6 * 25.4 / 72.0;
            assert!(width <= super::super::roll::WIDTH_MM - 2.0 * MARGIN_MM + 0.01, "{} is {width} mm", line.0);
            assert!(line.0.is_ascii());
        }
    }

    fn text(r: &HistoryReport) -> String {
        lines(r).iter().map(|l| l.0.clone() + "\n").collect()
    }

    #[test]
    fn a_history_report_shows_the_filter_and_its_totals_on_one_page() {
        let filter = HistoryFilter {
            since: Some("2026-11-01".parse::<TimeBound>().unwrap()),
            until: Some("2026-11-25".parse::<TimeBound>().unwrap()),
            provider: None,
            search: Some("NLV-DTUMJQ6ILG9WNISE".into()),
            ..Default::default()
        };
        let r = report(&filter, &sample_totals());
        let t = text(&r);
        assert!(t.contains("HISTORY REPORT") && t.contains("Duka la Mama Njeri"), "{t}");
        assert!(t.contains("Mama Njeri") && t.contains("TILL-1"), "{t}");
        assert!(t.contains("since 2026-11-01") && t.contains("real business only"), "{t}");
        assert!(!t.contains("NLV-DTUMJQ6ILG9WNISE"), "the search is masked: {t}");
        assert!(t.contains("KES 14,500.50") && t.contains("KES 12,345.50"), "{t}");
        assert!(t.contains("ETB 1,200.00"), "{t}");
        assert!(t.contains("Transactions") && t.contains("20"), "{t}");
        assert!(!t.contains("TRAINING"), "{t}");
        fits_the_paper(&r);

        let (pdf, height) = render(&r);
        assert!(pdf.starts_with(b"%PDF-"), "a PDF");
        let options = printpdf::PdfParseOptions { fail_on_error: true };
        let parsed = printpdf::PdfDocument::parse(&pdf, &options, &mut Vec::new()).expect("the PDF parses");
        assert_eq!(parsed.pages.len(), 1, "one page, cut to fit");
        assert!((parsed.pages[0].media_box.width.0 - printpdf::Pt::from(printpdf::Mm(80.0)).0).abs() < 0.5);
        assert!(height > 100.0, "{height}");
    }

    #[test]
    fn a_history_report_with_training_or_nothing_says_so() {
        let training = HistoryFilter { include_training: true, ..Default::default() };
        let r = report(&training, &totals(true));
        let t = text(&r);
        assert!(t.contains("*** TRAINING INCLUDED ***") && t.contains("training included"), "{t}");
        assert!(t.contains("KES Vouchers redeemed (TRAINING)"), "{t}");
        fits_the_paper(&r);
        let t = text(&report(&HistoryFilter::default(), &HistoryTotals::default()));
        assert!(t.contains("No transactions match the filter") && !t.contains("TRAINING"), "{t}");
    }

    #[test]
    fn a_long_filter_wraps_between_words() {
        let long = wrapped(
            "since 2026-11-01 (2026-10-31T21:00:00.000Z) and a word that is far too long: 0123456789012345678901234567890123456789012345",
        );
        assert!(long.len() > 2, "{long:?}");
        assert!(long.iter().all(|l| l.len() <= COLUMNS), "{long:?}");
        assert!(long[1..].iter().all(|l| l.starts_with("  ")), "{long:?}");
        assert_eq!(wrapped("real business only"), ["real business only"]);
    }

    #[test]
    fn a_history_report_is_saved_at_the_path_given() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kaunta-history-TILL-1-20261125-170000.pdf");
        let height = save(&report(&HistoryFilter::default(), &sample_totals()), &path).unwrap();
        assert!(height > 100.0);
        assert!(std::fs::read(&path).unwrap().starts_with(b"%PDF-"));
        assert!(!path.with_extension("pdf.part").exists());
    }
}
