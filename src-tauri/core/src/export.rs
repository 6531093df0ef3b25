//! Exports of the manager's history: CSV as RFC 4180 describes it (a header
//! row, CRLF line ends, fields with commas, quotes or line breaks quoted and
//! their quotes doubled), UTF-8, written row by row to any `Write`.
//!
//! - Amounts are decimal text in the currency's minor unit (`1200.50`,
//!   `UGX 5000` as `5000`), beside the currency and the exact integer minor
//!   units, so a spreadsheet can add them and a script can reconcile them.
//! - Times twice: UTC as stored (RFC 3339) and the till's local time.
//! - Codes masked only: the full voucher code or phone never leaves the ledger.
//! - A text cell a spreadsheet would run as a formula (starting with `=`,
//!   `+`, `-`, `@`, tab or carriage return: customer names come from
//!   providers) is written with a leading apostrophe, as OWASP advises.
//!
//! The ledger is read a chunk at a time, each under its own short lock, so
//! the till keeps redeeming while a year is exported.

use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone};
use serde::Serialize;

use crate::ledger::history::{HistoryCursor, HistoryFilter};
use crate::ledger::{Ledger, LedgerError, TransactionRow};
use crate::money::{Currency, Money};

pub const CSV_HEADER: [&str; 16] = [
    "transaction_id",
    "utc_time",
    "local_time",
    "till_id",
    "cashier",
    "provider",
    "operation",
    "code_masked",
    "amount",
    "currency",
    "amount_minor",
    "state",
    "provider_reference",
    "customer_name",
    "message",
    "training",
];

/// Rows read from the ledger per lock.
const CHUNK: u32 = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("The export could not be written: {0}")]
    Write(String),
}

impl From<csv::Error> for ExportError {
    fn from(e: csv::Error) -> Self {
        ExportError::Write(e.to_string())
    }
}

impl From<std::io::Error> for ExportError {
    fn from(e: std::io::Error) -> Self {
        ExportError::Write(e.to_string())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    pub rows: u64,
}

/// Writes the filter's transactions, newest first, as CSV with local times
/// in the till's time zone. `progress` hears the number of rows written
/// every `progress_every` rows (0: only at the end) and once at the end.
pub fn history_csv<W: Write>(
    ledger: &Ledger,
    filter: &HistoryFilter,
    out: W,
    progress_every: u64,
    progress: impl FnMut(u64),
) -> Result<ExportSummary, ExportError> {
    history_csv_in(&chrono::Local, ledger, filter, out, progress_every, progress)
}

/// As [`history_csv`], with local times in `tz`.
pub fn history_csv_in<Tz: TimeZone, W: Write>(
    tz: &Tz,
    ledger: &Ledger,
    filter: &HistoryFilter,
    out: W,
    progress_every: u64,
    mut progress: impl FnMut(u64),
) -> Result<ExportSummary, ExportError>
where
    Tz::Offset: std::fmt::Display,
{
    let mut csv = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(out);
    csv.write_record(CSV_HEADER)?;
    let mut rows = 0u64;
    let mut after: Option<HistoryCursor> = None;
    loop {
        let page = ledger.history_page(filter, after.as_ref(), CHUNK)?;
        for row in &page.rows {
            csv.write_record(record(tz, row).iter().map(|c| c.as_ref()))?;
            rows += 1;
            if progress_every > 0 && rows.is_multiple_of(progress_every) {
                progress(rows);
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    csv.flush()?;
    if progress_every == 0 || !rows.is_multiple_of(progress_every) || rows == 0 {
        progress(rows);
    }
    Ok(ExportSummary { rows })
}

/// Where the window saves exports: the user's Downloads folder where there
/// is one, else `<data dir>/exports`.
pub fn export_dir(data_dir: &Path) -> PathBuf {
    directories::UserDirs::new()
        .and_then(|u| u.download_dir().map(Path::to_path_buf))
        .filter(|d| d.is_dir())
        .unwrap_or_else(|| data_dir.join("exports"))
}

/// `kaunta-history-<till>-<yyyymmdd-hhmmss>.csv` in `dir` (created if
/// missing), with `-2`, `-3`… added rather than replacing a file already there.
/// Characters a file name cannot hold on every system become `_`.
pub fn new_history_path<Tz: TimeZone>(dir: &Path, till_id: &str, at: DateTime<Tz>) -> std::io::Result<PathBuf>
where
    Tz::Offset: std::fmt::Display,
{
    new_history_file(dir, till_id, at, "csv")
}

/// As [`new_history_path`], for a file ending in `.<ext>` (the PDF report).
pub fn new_history_file<Tz: TimeZone>(
    dir: &Path,
    till_id: &str,
    at: DateTime<Tz>,
    ext: &str,
) -> std::io::Result<PathBuf>
where
    Tz::Offset: std::fmt::Display,
{
    std::fs::create_dir_all(dir)?;
    let till: String = till_id
        .chars()
        .take(40)
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .collect();
    let stem = format!("kaunta-history-{till}-{}", at.format("%Y%m%d-%H%M%S"));
    let mut path = dir.join(format!("{stem}.{ext}"));
    let mut n = 2;
    while path.exists() || path.with_extension(format!("{ext}.part")).exists() {
        path = dir.join(format!("{stem}-{n}.{ext}"));
        n += 1;
    }
    Ok(path)
}

fn record<'a, Tz: TimeZone>(tz: &Tz, r: &'a TransactionRow) -> [Cow<'a, str>; 16]
where
    Tz::Offset: std::fmt::Display,
{
    let text = |s: &'a Option<String>| s.as_deref().map_or(Cow::Borrowed(""), safe_cell);
    [
        Cow::Borrowed(r.id.as_str()),
        Cow::Borrowed(r.created_at.as_str()),
        Cow::Owned(local_time(tz, &r.created_at)),
        safe_cell(&r.till_id),
        safe_cell(&r.cashier),
        Cow::Borrowed(r.provider.as_str()),
        Cow::Borrowed(r.operation.as_str()),
        text(&r.code_masked),
        Cow::Owned(decimal(r.amount_minor, r.currency.as_deref())),
        text(&r.currency),
        Cow::Owned(r.amount_minor.map(|m| m.to_string()).unwrap_or_default()),
        Cow::Borrowed(r.state.as_str()),
        text(&r.provider_reference),
        text(&r.customer_name),
        text(&r.outcome_message),
        Cow::Borrowed(if r.training { "true" } else { "false" }),
    ]
}

/// `2026-11-25 20:15:03` in `tz`; the stored text if it is not a time.
fn local_time<Tz: TimeZone>(tz: &Tz, utc: &str) -> String
where
    Tz::Offset: std::fmt::Display,
{
    chrono::DateTime::parse_from_rfc3339(utc)
        .map(|t| t.with_timezone(tz).format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|_| utc.to_string())
}

/// `1200.50`: the amount in the currency's unit, no grouping. Empty when
/// there is no amount or the currency is not one we know the unit of (the
/// `amount_minor` column still holds it).
fn decimal(minor: Option<i64>, currency: Option<&str>) -> String {
    match (minor, currency.and_then(|c| c.parse::<Currency>().ok())) {
        (Some(minor), Some(currency)) => Money::new(minor, currency).amount_text().replace(',', ""),
        _ => String::new(),
    }
}

/// A text cell no spreadsheet will run as a formula.
fn safe_cell(s: &str) -> Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { Cow::Owned(format!("'{s}")) } else { Cow::Borrowed(s) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::history::TimeBound;
    use chrono::FixedOffset;

    fn insert(ledger: &Ledger, id: &str, at: &str, name: &str, amount: i64, currency: &str, training: bool) {
        let code = format!("NLV-SECRET{id:0>6}");
        let conn = rusqlite::Connection::open(ledger.path()).unwrap();
        conn.execute(
            "INSERT INTO transactions (id, created_at, updated_at, till_id, cashier, provider, operation,
                voucher_code, code_masked, amount_minor, currency, state, provider_reference, customer_name,
                outcome_message, owner, training)
             VALUES (?1, ?2, ?2, 'TILL-1', 'Amina', 'pesavoucher', 'redeem', ?3, ?4, ?5, ?6, 'completed',
                'REF,1', ?7, 'Voucher redeemed successfully', 'x', ?8)",
            rusqlite::params![id, at, code, crate::voucher_code::mask(&code), amount, currency, name, training],
        )
        .unwrap();
    }

    fn ledger() -> (tempfile::TempDir, Ledger) {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::in_data_dir(dir.path(), "TILL-1").unwrap();
        (dir, ledger)
    }

    /// A strict RFC 4180 reader, independent of the writer under test.
    fn parse(text: &str) -> Vec<Vec<String>> {
        let mut records = vec![];
        let mut record = vec![];
        let mut field = String::new();
        let mut chars = text.chars().peekable();
        let mut quoted = false;
        while let Some(c) = chars.next() {
            match (quoted, c) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                (true, '"') => quoted = false,
                (true, c) => field.push(c),
                (false, '"') if field.is_empty() => quoted = true,
                (false, ',') => record.push(std::mem::take(&mut field)),
                (false, '\r') => {
                    assert_eq!(chars.next(), Some('\n'), "records end in CRLF");
                    record.push(std::mem::take(&mut field));
                    records.push(std::mem::take(&mut record));
                }
                (false, c) => {
                    assert!(c != '\n' && c != '"', "bare {c:?} outside quotes");
                    field.push(c);
                }
            }
        }
        assert!(field.is_empty() && record.is_empty() && !quoted, "the last record ends in CRLF");
        records
    }

    fn export(ledger: &Ledger, filter: &HistoryFilter, every: u64) -> (String, Vec<u64>) {
        let nairobi = FixedOffset::east_opt(3 * 3600).unwrap();
        let mut out = Vec::new();
        let mut heard = Vec::new();
        let summary = history_csv_in(&nairobi, ledger, filter, &mut out, every, |n| heard.push(n)).unwrap();
        assert_eq!(heard.last(), Some(&summary.rows));
        (String::from_utf8(out).unwrap(), heard)
    }

    #[test]
    fn awkward_text_is_quoted_as_rfc_4180_says_and_read_back_unchanged() {
        let (_dir, ledger) = ledger();
        let names = [
            "Doe, Jane",
            "Jane \"JJ\" Doe",
            "Line one\r\nline two\nthree",
            "Wanjikũ Njeri ❤ ጀማል",
            "<script>alert('x')</script> & <b>bold</b>",
            "=HYPERLINK(\"http://evil\",\"x\")",
            "  spaced  ",
        ];
        for (i, name) in names.iter().enumerate() {
            insert(&ledger, &format!("t{i}"), &format!("2026-11-25T0{i}:00:00.000Z"), name, 120_050, "KES", false);
        }
        let (text, _) = export(&ledger, &HistoryFilter::default(), 0);
        assert!(text.starts_with("transaction_id,utc_time,local_time,till_id,cashier,"));
        let records = parse(&text);
        assert_eq!(records[0], CSV_HEADER);
        assert_eq!(records.len(), names.len() + 1);
        // Newest first: the last name inserted comes first.
        let read: Vec<&str> = records[1..].iter().rev().map(|r| r[13].as_str()).collect();
        assert_eq!(read[..5], names[..5], "commas, quotes, line breaks, unicode and markup survive");
        assert_eq!(read[5], "'=HYPERLINK(\"http://evil\",\"x\")", "a formula is defused");
        assert_eq!(read[6], "  spaced  ");
        assert!(text.contains("\"Doe, Jane\"") && text.contains("\"Jane \"\"JJ\"\" Doe\""), "{text}");
        assert!(records.iter().all(|r| r.len() == CSV_HEADER.len()));
        let first = &records[names.len()];
        assert_eq!(first[12], "REF,1");
        assert!(!text.contains("SECRET"), "the full code never appears: {text}");
    }

    #[test]
    fn amounts_are_decimal_in_the_currencys_unit_with_both_times() {
        let (_dir, ledger) = ledger();
        insert(&ledger, "kes", "2026-11-25T17:15:03.250Z", "A", 120_050, "KES", false);
        insert(&ledger, "ugx", "2026-11-25T16:00:00.000Z", "B", 5_000, "UGX", false);
        insert(&ledger, "etb", "2026-11-25T15:00:00.000Z", "C", 100_000_007, "ETB", false);
        insert(&ledger, "zzz", "2026-11-25T14:00:00.000Z", "D", 42, "ZZZ", false);
        insert(&ledger, "trn", "2026-11-25T13:00:00.000Z", "E", 500_000, "KES", true);
        let (text, _) = export(&ledger, &HistoryFilter::default(), 0);
        let records = parse(&text);
        let by_id = |id: &str| records.iter().find(|r| r[0] == id).cloned();
        let kes = by_id("kes").unwrap();
        assert_eq!((kes[8].as_str(), kes[9].as_str(), kes[10].as_str()), ("1200.50", "KES", "120050"));
        assert_eq!((kes[1].as_str(), kes[2].as_str()), ("2026-11-25T17:15:03.250Z", "2026-11-25 20:15:03"));
        assert_eq!(by_id("ugx").unwrap()[8], "5000");
        assert_eq!(by_id("etb").unwrap()[8], "1000000.07");
        let unknown = by_id("zzz").unwrap();
        assert_eq!((unknown[8].as_str(), unknown[10].as_str()), ("", "42"), "an unknown unit is not guessed");
        assert!(by_id("trn").is_none(), "training is not real business");
        assert_eq!(kes[15], "false");

        let with_training = HistoryFilter { include_training: true, ..Default::default() };
        let (text, _) = export(&ledger, &with_training, 0);
        let trn = parse(&text).into_iter().find(|r| r[0] == "trn").unwrap();
        assert_eq!(trn[15], "true");
    }

    #[test]
    fn a_large_export_streams_in_chunks_and_reports_progress() {
        let (_dir, ledger) = ledger();
        let conn = rusqlite::Connection::open(ledger.path()).unwrap();
        conn.execute_batch(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 2499)
             INSERT INTO transactions (id, created_at, updated_at, till_id, cashier, provider, operation,
                code_masked, amount_minor, currency, state, owner, training)
             SELECT printf('t%05d', i), strftime('%Y-%m-%dT%H:%M:%fZ', '2026-11-01', printf('+%d seconds', i * 600)),
                '', 'TILL-1', 'amina', 'telesend', 'redeem', '••••', 1000 + i, 'ETB', 'completed', 'x', 0
             FROM n;",
        )
        .unwrap();
        let (text, heard) = export(&ledger, &HistoryFilter::default(), 1_000);
        assert_eq!(heard, [1_000, 2_000, 2_500]);
        let records = parse(&text);
        assert_eq!(records.len(), 2_501);
        assert_eq!(records[1][0], "t02499");
        assert_eq!(records[2_500][0], "t00000");
        let sum: i64 = records[1..].iter().map(|r| r[10].parse::<i64>().unwrap()).sum();
        assert_eq!(sum, (0..2_500).map(|i| 1_000 + i).sum::<i64>());

        // A period: only its rows, and the progress callback still ends on the count.
        let day = HistoryFilter {
            since: Some("2026-11-02T00:00:00Z".parse::<TimeBound>().unwrap()),
            until: Some("2026-11-03T00:00:00Z".parse::<TimeBound>().unwrap()),
            ..Default::default()
        };
        let (text, heard) = export(&ledger, &day, 1_000);
        assert_eq!(parse(&text).len(), 1 + 144);
        assert_eq!(heard, [144]);
    }

    #[test]
    fn an_empty_export_is_a_header_only() {
        let (_dir, ledger) = ledger();
        let (text, heard) = export(&ledger, &HistoryFilter::default(), 10);
        assert_eq!(parse(&text), [CSV_HEADER.map(String::from).to_vec()]);
        assert_eq!(heard, [0]);
    }

    #[test]
    fn a_failing_writer_stops_the_export_with_an_error() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk full"))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let (_dir, ledger) = ledger();
        let err = history_csv(&ledger, &HistoryFilter::default(), Full, 0, |_| {}).unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
    }

    #[test]
    fn an_export_is_named_after_the_till_and_the_time_and_never_replaces_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let at = FixedOffset::east_opt(3 * 3600).unwrap().with_ymd_and_hms(2026, 11, 25, 17, 4, 9).unwrap();
        let first = new_history_path(&dir.path().join("exports"), "TILL 1/../x", at).unwrap();
        assert_eq!(first.file_name().unwrap(), "kaunta-history-TILL_1____x-20261125-170409.csv");
        assert!(first.parent().unwrap().is_dir(), "the folder is made");
        std::fs::write(&first, "x").unwrap();
        let second = new_history_path(&dir.path().join("exports"), "TILL 1/../x", at).unwrap();
        assert_eq!(second.file_name().unwrap(), "kaunta-history-TILL_1____x-20261125-170409-2.csv");
        assert!(export_dir(dir.path()).is_absolute());
    }
}
