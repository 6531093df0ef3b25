//! X and Z reports on the 80 mm roll, saved under `reports/` like receipts
//! under `receipts/`.

use std::path::{Path, PathBuf};

use super::ReceiptError;
use super::roll::{
    BODY_PT, COLUMNS, Line, MARGIN_MM, centred, pair, pdf, printable, rule, text_height_mm, text_ops, wrapped,
};
use crate::shift::{CurrencyLine, GroupLine, ReportKind, ShiftReport};

/// Width of the count column and of the amount column ("KES 14,500,000.50").
const COUNT_W: usize = 5;
const AMOUNT_W: usize = 17;

fn local(utc: &str) -> String {
    crate::redeem::local_time(utc)
}

/// What an operation is called on the report.
pub fn operation_label(operation: &str) -> &str {
    match operation {
        "redeem" => "Vouchers redeemed",
        "checkout" => "Payments taken",
        "create_voucher" => "Vouchers created",
        "payout" => "Payouts",
        other => other,
    }
}

/// A label, a count and an amount in fixed columns; a label too long for
/// its column goes on a line of its own above.
pub(super) fn row(label: &str, count: i64, amount: &str) -> Vec<String> {
    let label = printable(label);
    let amount = printable(amount);
    let label_w = COLUMNS - COUNT_W - 1 - AMOUNT_W;
    let tail = format!("{count:>COUNT_W$} {amount:>AMOUNT_W$}");
    if label.chars().count() <= label_w {
        vec![format!("{label:<label_w$}{tail}")]
    } else {
        vec![label.chars().take(COLUMNS).collect(), format!("{:<label_w$}{tail}", "")]
    }
}

pub(super) fn heading(out: &mut Vec<Line>, title: &str) {
    out.push(Line::body(rule()));
    out.push(Line(printable(title), BODY_PT, true));
}

pub(super) fn currency_lines(out: &mut Vec<Line>, lines: &[CurrencyLine], indent: &str) {
    for c in lines {
        let t = &c.total;
        let training = if t.training { " (TRAINING)" } else { "" };
        let currency = t.currency.as_deref().unwrap_or("No amount");
        out.push(Line(
            printable(&format!("{indent}{currency} {}{training}", operation_label(&t.operation))),
            BODY_PT,
            true,
        ));
        let shown = |m: &Option<crate::till::MoneyView>| m.as_ref().map_or(String::new(), |m| m.display.clone());
        for text in row(&format!("{indent}  Completed"), t.completed_count, &shown(&c.completed)) {
            out.push(Line::body(text));
        }
        if t.open_count > 0 {
            for text in row(&format!("{indent}  Open"), t.open_count, &shown(&c.open)) {
                out.push(Line::body(text));
            }
        }
        if t.failed_count > 0 {
            for text in row(&format!("{indent}  Failed"), t.failed_count, "") {
                out.push(Line::body(text));
            }
        }
    }
}

/// Each provider's operation in a currency as a bold title, then a count
/// and an amount per state.
pub(super) fn group_lines(out: &mut Vec<Line>, groups: &[GroupLine]) {
    let mut last = None;
    for g in groups {
        let t = &g.group;
        let key = (t.training, t.currency.clone(), t.provider.clone(), t.operation.clone());
        if last.as_ref() != Some(&key) {
            let training = if t.training { " (TRAINING)" } else { "" };
            let currency = t.currency.as_deref().unwrap_or("");
            let title = format!("{} {} {currency}{training}", g.provider_name, operation_label(&t.operation));
            out.extend(wrapped(title.trim_end()).into_iter().map(|t| Line(t, BODY_PT, true)));
            last = Some(key);
        }
        let amount = g.amount.as_ref().map_or(String::new(), |m| m.display.clone());
        out.extend(row(&format!("  {}", t.state.as_str()), t.count, &amount).into_iter().map(Line::body));
    }
}

pub(crate) fn lines(r: &ShiftReport) -> Vec<Line> {
    let body = Line::body;
    let mut out = vec![Line(centred(&r.store_name, COLUMNS * 85 / 110), 11.0, true)];
    if r.training {
        out.push(Line(centred("*** TRAINING - NOT REAL BUSINESS ***", COLUMNS), BODY_PT, true));
    }
    if r.reprint.is_some() {
        out.push(Line(centred("*** REPRINT ***", COLUMNS), BODY_PT, true));
    }
    out.push(body(rule()));
    let title = match r.kind {
        ReportKind::X => "X REPORT - RUNNING",
        ReportKind::Z => "Z REPORT - SHIFT CLOSED",
    };
    out.push(Line(centred(title, COLUMNS * 85 / 100), 10.0, true));
    out.push(body(rule()));
    let s = &r.shift;
    let mut facts = vec![
        ("Till", s.till_id.clone()),
        ("Shift", s.id.clone()),
        ("Opened", local(&s.opened_at)),
        ("Opened by", s.opened_by.clone()),
    ];
    match (&s.closed_at, &s.closed_by) {
        (Some(at), Some(by)) => {
            facts.push(("Closed", local(at)));
            facts.push(("Closed by", by.clone()));
        }
        _ => facts.push(("Figures up to", local(&r.until))),
    }
    if let Some(reprint) = &r.reprint {
        facts.push(("Reprinted", local(&reprint.at)));
        facts.push(("Reprinted by", reprint.by.clone()));
    }
    facts.push(("Transactions", r.count.to_string()));
    for (label, value) in facts {
        out.extend(pair(label, &value).into_iter().map(body));
    }

    heading(&mut out, "TOTALS BY CURRENCY");
    if r.by_currency.is_empty() {
        out.push(body("No transactions in this shift".into()));
    }
    currency_lines(&mut out, &r.by_currency, "");

    heading(&mut out, "BY PROVIDER AND STATUS");
    group_lines(&mut out, &r.by_provider);

    heading(&mut out, "BY CASHIER");
    for c in &r.by_cashier {
        out.extend(pair(&c.cashier, &format!("{} txn", c.count)).into_iter().map(|s| Line(s, BODY_PT, true)));
        currency_lines(&mut out, &c.by_currency, "  ");
    }

    if let Some(head) = &r.audit_head {
        heading(&mut out, "AUDIT LOG HEAD");
        out.extend(pair("Last row", &head.seq.to_string()).into_iter().map(body));
        out.push(body("Hash".into()));
        let chars: Vec<char> = head.hash.chars().collect();
        out.extend(chars.chunks(32).map(|c| body(format!("  {}", c.iter().collect::<String>()))));
        out.push(body("Keep this report: verification checks".into()));
        out.push(body("the log against this row and hash.".into()));
    }
    out.push(body(rule()));
    out.push(body("Open: pending or unknown, not final".into()));
    if r.kind == ReportKind::Z {
        out.push(body(String::new()));
        out.push(body("Manager signature:".into()));
        out.push(body(String::new()));
        out.push(body(format!("  {}", "_".repeat(COLUMNS - 4))));
    } else {
        out.push(body(centred("Shift still open: not a closing report", COLUMNS)));
    }
    out
}

/// The PDF and its page height in millimetres (the roll is cut to fit).
pub fn render(r: &ShiftReport) -> (Vec<u8>, f32) {
    let lines = lines(r);
    let height_mm = MARGIN_MM * 3.0 + text_height_mm(&lines);
    let (ops, _) = text_ops(&lines, height_mm);
    let kind = match r.kind {
        ReportKind::X => "X",
        ReportKind::Z => "Z",
    };
    (pdf(&format!("{kind} report {}", r.shift.id), height_mm, ops), height_mm)
}

/// Saves `reports/<shift id>-z.pdf`, `reports/<shift id>-z-reprint-N.pdf`
/// for the Nth copy of it, or `reports/<shift id>-x-<time>.pdf` for an X
/// report (a shift may have many); returns the path and the page height in
/// millimetres.
pub fn save(r: &ShiftReport, data_dir: &Path) -> Result<(PathBuf, f32), ReceiptError> {
    let (bytes, height_mm) = render(r);
    let dir = data_dir.join("reports");
    std::fs::create_dir_all(&dir).map_err(|source| ReceiptError::Save { path: dir.clone(), source })?;
    let name = match (r.kind, &r.reprint) {
        (ReportKind::Z, Some(_)) => return save_reprint(&dir, &r.shift.id, &bytes).map(|path| (path, height_mm)),
        (ReportKind::Z, None) => format!("{}-z.pdf", r.shift.id),
        (ReportKind::X, _) => {
            let stamp: String = r.until.chars().filter(char::is_ascii_digit).take(17).collect();
            format!("{}-x-{stamp}.pdf", r.shift.id)
        }
    };
    let path = dir.join(name);
    std::fs::write(&path, bytes).map_err(|source| ReceiptError::Save { path: path.clone(), source })?;
    Ok((path, height_mm))
}

/// The first free `<shift id>-z-reprint-N.pdf`, created only if absent: the
/// original and earlier copies are what was handed over, so two reprints at
/// once (the window and the command line) each get a file of their own.
fn save_reprint(dir: &Path, shift_id: &str, bytes: &[u8]) -> Result<PathBuf, ReceiptError> {
    use std::io::Write;
    for n in 1.. {
        let path = dir.join(format!("{shift_id}-z-reprint-{n}.pdf"));
        let file = std::fs::OpenOptions::new().write(true).create_new(true).open(&path);
        match file {
            Ok(mut file) => {
                file.write_all(bytes).map_err(|source| ReceiptError::Save { path: path.clone(), source })?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(source) => return Err(ReceiptError::Save { path, source }),
        }
    }
    unreachable!("a shift has fewer than usize::MAX reprints")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ledger::history::TotalsGroup;
    use crate::ledger::shifts::{CashierTotals, ShiftFigures, ShiftRow};
    use crate::ledger::{State, history::HistoryTotals};

    fn group(provider: &str, operation: &str, state: State, currency: &str, count: i64, amount: i64) -> TotalsGroup {
        TotalsGroup {
            training: false,
            currency: Some(currency.into()),
            provider: provider.into(),
            operation: operation.into(),
            state,
            count,
            amount_minor: amount,
        }
    }

    pub(crate) fn sample(kind: ReportKind, training: bool) -> ShiftReport {
        let groups = vec![
            group("giftpesa", "redeem", State::Completed, "KES", 2, 150_000),
            group("pesapal", "checkout", State::Completed, "KES", 1, 1_234_550),
            group("pesapal", "checkout", State::Unknown, "KES", 1, 5_000),
            group("pesavoucher", "redeem", State::Completed, "KES", 12, 1_450_050),
            group("pesavoucher", "redeem", State::Failed, "KES", 1, 75_000),
            group("telesend", "redeem", State::Completed, "ETB", 3, 120_000),
        ];
        let totals = HistoryTotals::from_groups(groups.clone()).unwrap();
        let amina = HistoryTotals::from_groups(groups[..3].to_vec()).unwrap();
        let baraka = HistoryTotals::from_groups(groups[3..].to_vec()).unwrap();
        let figures = ShiftFigures {
            totals,
            by_cashier: vec![
                CashierTotals { cashier: "Amina".into(), totals: amina },
                CashierTotals { cashier: "Baraka Otieno".into(), totals: baraka },
            ],
        };
        let closed = kind == ReportKind::Z;
        let shift = ShiftRow {
            id: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into(),
            till_id: "TILL-1".into(),
            opened_by: "Amina".into(),
            opened_at: "2026-11-25T05:00:00.000Z".into(),
            closed_by: closed.then(|| "Mama Njeri".into()),
            closed_at: closed.then(|| "2026-11-25T14:00:00.000Z".into()),
            audit_head_seq: closed.then_some(1234),
            audit_head_hash: closed.then(|| "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into()),
        };
        ShiftReport::new(kind, "Duka la Mama Njeri", shift, "2026-11-25T14:00:00.000Z".into(), training, &figures)
    }

    fn text(r: &ShiftReport) -> String {
        lines(r).iter().map(|l| l.0.clone() + "\n").collect()
    }

    #[test]
    fn a_z_report_says_closed_and_carries_the_audit_head() {
        let r = sample(ReportKind::Z, false);
        let t = text(&r);
        assert!(t.contains("Z REPORT - SHIFT CLOSED"), "{t}");
        assert!(t.contains("Mama Njeri"));
        assert!(t.contains("1234") && t.contains("9f86d081884c7d659a2feaa0c55ad015"), "{t}");
        assert!(t.contains("KES 14,500.50"), "{t}");
        assert!(t.contains("ETB 1,200.00"), "{t}");
        assert!(!t.contains("TRAINING"));
        let (pdf, height) = render(&r);
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(height > 100.0, "{height}");
    }

    #[test]
    fn an_x_report_says_running_and_training_is_marked() {
        let t = text(&sample(ReportKind::X, true));
        assert!(t.contains("X REPORT - RUNNING"));
        assert!(t.contains("*** TRAINING"));
        assert!(!t.contains("AUDIT LOG HEAD"));
    }

    #[test]
    fn nothing_runs_past_the_paper() {
        let mut r = sample(ReportKind::Z, false);
        r.by_cashier[0].cashier = "Wanjirũ wa Kamau na Familia Yake Yote ya Nyeri".into();
        for line in lines(&r) {
            let width = (line.0.chars().count() as f32) * line.1 * 0.6 * 25.4 / 72.0;
            assert!(width <= super::super::roll::WIDTH_MM - 2.0 * MARGIN_MM + 0.01, "{} is {width} mm", line.0);
            assert!(line.0.is_ascii());
        }
    }

    #[test]
    fn a_reprint_is_marked_with_who_and_when() {
        let mut r = sample(ReportKind::Z, false);
        assert!(!text(&r).contains("REPRINT"));
        r.reprint = Some(crate::shift::Reprint { by: "Baraka Otieno".into(), at: "2026-11-26T07:30:00.000Z".into() });
        let t = text(&r);
        assert!(t.contains("*** REPRINT ***"), "{t}");
        assert!(t.contains("Reprinted by") && t.contains("Baraka Otieno"), "{t}");
        assert!(t.contains(&local("2026-11-26T07:30:00.000Z")), "{t}");
        assert!(t.contains("Z REPORT - SHIFT CLOSED") && t.contains("AUDIT LOG HEAD"), "{t}");
    }

    #[test]
    fn a_reprint_never_overwrites_the_original_or_an_earlier_copy() {
        let dir = tempfile::tempdir().unwrap();
        let original = sample(ReportKind::Z, false);
        let (z, _) = save(&original, dir.path()).unwrap();
        let before = std::fs::read(&z).unwrap();
        let mut copy = original.clone();
        copy.reprint = Some(crate::shift::Reprint { by: "Mama Njeri".into(), at: "2026-11-26T07:30:00.000Z".into() });
        let (first, _) = save(&copy, dir.path()).unwrap();
        let (second, _) = save(&copy, dir.path()).unwrap();
        let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(name(&first), "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b-z-reprint-1.pdf");
        assert_eq!(name(&second), "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b-z-reprint-2.pdf");
        assert_eq!(std::fs::read(&z).unwrap(), before, "the original is untouched");
        assert!(std::fs::read(&first).unwrap().starts_with(b"%PDF-"));
    }

    #[test]
    fn reports_are_saved_under_reports() {
        let dir = tempfile::tempdir().unwrap();
        let (z, _) = save(&sample(ReportKind::Z, false), dir.path()).unwrap();
        assert!(z.ends_with("reports/0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b-z.pdf"), "{}", z.display());
        let (x, _) = save(&sample(ReportKind::X, false), dir.path()).unwrap();
        assert!(x.file_name().unwrap().to_string_lossy().contains("-x-20261125140000000"), "{}", x.display());
    }
}
