//! History page and totals at 1,000,000 transactions (budget < 20 ms).
//!
//! What the manager's history screen asks the ledger for its first page: a
//! page of 50 rows (`Ledger::history_page`) and the totals of the whole
//! filter (`Ledger::history_totals`), for a day, 30 days and a year, and with
//! the narrower filters (a provider, a cashier, a search fragment); and the
//! cashier screen's `Ledger::recent(50)`. All through the ledger's own code
//! on the schema as migrated (its indexes, its daily, per-cashier and hourly
//! totals and its search index).
//!
//! A year of transactions (1,000,000, one every ~32 s, three providers, two
//! currencies, 2 % training) is inserted in big transactions with
//! synchronous=OFF (the schema's triggers keep the totals tables and the
//! search index as they go):
//! set-up, not measured. The till's time zone is the process's (`TZ`;
//! scripts/bench sets Africa/Nairobi, so a day's bounds fall inside UTC days
//! as at a Kenyan till). Query plans of the same statements are reported.

mod common;

use std::time::{Duration, Instant};

use chrono::{NaiveDate, SecondsFormat, TimeZone, Utc};
use common::{Report, Samples, ms, progress, secs};
use kaunta_core::ledger::Ledger;
use kaunta_core::ledger::history::{HistoryFilter, TimeBound};
use kaunta_core::providers::ProviderId;
use rusqlite::{Connection, params};

const BUDGET_MS: f64 = 20.0;
const PAGE: u32 = 50;
const CASHIERS: [&str; 8] = ["Amina", "Baraka", "Chebet", "Daudi", "Esther", "Faraji", "Grace", "Halima"];

fn populate(path: &std::path::Path, n: usize) {
    let mut conn = Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "OFF").unwrap();
    let start = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
    let step_ms = 365 * 24 * 3600 * 1000 / n as i64;
    let owner = uuid::Uuid::now_v7().to_string();
    let time = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
    let batch = 100_000;
    for first in (0..n).step_by(batch) {
        let tx = conn.transaction().unwrap();
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO transactions (id, created_at, updated_at, till_id, cashier, provider, operation,
                        voucher_code, code_masked, amount_minor, currency, state, provider_reference,
                        customer_name, outcome_message, owner, training)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'redeem', ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                )
                .unwrap();
            for i in first..(first + batch).min(n) {
                let created = start + chrono::Duration::milliseconds(i as i64 * step_ms);
                let (provider, currency) = match i % 20 {
                    0..=11 => ("pesavoucher", "KES"),
                    12..=16 => ("telesend", "ETB"),
                    _ => ("giftpesa", "KES"),
                };
                let state = match i % 1000 {
                    0..=909 => "completed",
                    999 => "unknown",
                    _ => "failed",
                };
                let code = format!("NLV-{i:012}");
                insert
                    .execute(params![
                        uuid::Uuid::now_v7().to_string(),
                        time(created),
                        time(created + chrono::Duration::milliseconds(1800)),
                        if i % 3 == 0 { "TILL-2" } else { "TILL-1" },
                        CASHIERS[i % CASHIERS.len()],
                        provider,
                        code,
                        kaunta_core::voucher_code::mask(&code),
                        5_000 + (i as i64 * 7919 % 2_000) * 500,
                        currency,
                        state,
                        (state == "completed").then(|| time(created)),
                        "Jane Doe",
                        if state == "completed" { "Voucher redeemed successfully" } else { "Voucher has expired" },
                        owner,
                        i % 50 == 0,
                    ])
                    .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
}

/// The plan SQLite chooses (it does not depend on the values bound here).
fn plan(conn: &Connection, sql: &str, values: impl rusqlite::Params) -> String {
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    let mut rows = stmt.query(values).unwrap();
    let mut out = Vec::new();
    while let Some(r) = rows.next().unwrap() {
        out.push(r.get::<_, String>(3).unwrap());
    }
    out.join("\n")
}

fn day(s: &str) -> TimeBound {
    TimeBound::Day(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap())
}

struct Case {
    name: &'static str,
    filter: HistoryFilter,
    /// Always in the summary table (the periods, and the filters that once
    /// missed the budget); the others only when they miss.
    headline: bool,
}

fn cases() -> Vec<Case> {
    let period = |since: &str, until: &str| HistoryFilter {
        since: Some(day(since)),
        until: Some(day(until)),
        ..HistoryFilter::default()
    };
    let year = || period("2025-01-01", "2025-12-31");
    let month = || period("2025-06-01", "2025-06-30");
    vec![
        Case { name: "1 day", filter: period("2025-06-15", "2025-06-15"), headline: true },
        Case { name: "30 days", filter: month(), headline: true },
        Case { name: "the whole year", filter: year(), headline: true },
        Case {
            name: "the whole year, one provider",
            filter: HistoryFilter { provider: Some(ProviderId::PesaVoucher), ..year() },
            headline: false,
        },
        Case {
            name: "30 days, one cashier",
            filter: HistoryFilter { cashier: Some("Chebet".into()), ..month() },
            headline: false,
        },
        Case {
            name: "the whole year, one cashier",
            filter: HistoryFilter { cashier: Some("Chebet".into()), ..year() },
            headline: true,
        },
        Case {
            name: "30 days, a search fragment",
            filter: HistoryFilter { search: Some("4242".into()), ..month() },
            headline: true,
        },
        Case {
            name: "the whole year, a search fragment",
            filter: HistoryFilter { search: Some("4242".into()), ..year() },
            headline: false,
        },
        Case {
            name: "30 days, a two-character fragment (no index lookup)",
            filter: HistoryFilter { search: Some("42".into()), ..month() },
            headline: false,
        },
    ]
}

/// Times the first page and the totals of `filter`, as the screen asks for
/// them, up to 50 rounds or about 10 s.
fn time_case(ledger: &Ledger, filter: &HistoryFilter) -> (Samples, Samples, Samples, i64) {
    let (mut page, mut totals, mut both) = (Samples::default(), Samples::default(), Samples::default());
    let mut counted = 0;
    ledger.history_page(filter, None, PAGE).unwrap();
    ledger.history_totals(filter).unwrap();
    let started = Instant::now();
    while both.len() < 50 && (both.len() < 5 || started.elapsed() < Duration::from_secs(10)) {
        let t0 = Instant::now();
        let p = ledger.history_page(filter, None, PAGE).unwrap();
        let t1 = Instant::now();
        let t = ledger.history_totals(filter).unwrap();
        let t2 = Instant::now();
        std::hint::black_box(&p);
        counted = t.count;
        page.push(t1 - t0);
        totals.push(t2 - t1);
        both.push(t2 - t0);
    }
    (page, totals, both, counted)
}

fn main() {
    let n = common::count("KAUNTA_BENCH_TRANSACTIONS", 1_000_000);
    let tz = std::env::var("TZ").unwrap_or_else(|_| "the machine's".into());
    let dir = common::scratch_dir();
    let path = dir.path().join("kaunta.sqlite3");
    drop(Ledger::open(&path, "TILL-1").unwrap());
    progress(format!("inserting {n} transactions"));
    let t = Instant::now();
    populate(&path, n);
    let built = t.elapsed();
    let size = std::fs::metadata(&path).unwrap().len();
    progress(format!("inserted in {} ({} MB)", secs(built), size / 1_000_000));

    let ledger = Ledger::open(&path, "TILL-1").unwrap();
    let mut report = Report::new("history", "History page and totals");

    let recent = common::sample(5, 200, |_| assert_eq!(ledger.recent(50).unwrap().len(), 50));
    let mut rows = vec![vec![
        "cashier screen: `Ledger::recent(50)`".to_string(),
        "-".into(),
        "-".into(),
        "-".into(),
        format!("{} / {}", ms(recent.p50()), ms(recent.p99())),
        recent.len().to_string(),
    ]];
    let mut missed = Vec::new();
    for case in cases() {
        progress(format!("history: {}", case.name));
        let (page, totals, both, counted) = time_case(&ledger, &case.filter);
        let met = both.p99().as_secs_f64() * 1e3 < BUDGET_MS;
        if case.headline || !met {
            report.row(
                &format!("history: first page (50 rows) + totals, {}, {n} transactions", case.name),
                &format!("p50 {}, p99 {}", ms(both.p50()), ms(both.p99())),
                "< 20 ms",
                Some(met),
            );
        }
        if !met {
            missed.push(case.name);
        }
        rows.push(vec![
            case.name.to_string(),
            counted.to_string(),
            format!("{} / {}", ms(page.p50()), ms(page.p99())),
            format!("{} / {}", ms(totals.p50()), ms(totals.p99())),
            format!("**{} / {}**", ms(both.p50()), ms(both.p99())),
            both.len().to_string(),
        ]);
    }

    // The back office's chart of daily totals per provider, for the longest period it shows.
    for (name, filter) in
        [("30 days", cases().swap_remove(1).filter), ("the whole year", cases().swap_remove(2).filter)]
    {
        progress(format!("daily chart: {name}"));
        let counted = ledger.history_totals(&filter).unwrap().count;
        let chart = common::sample(2, 30, |_| {
            let days = ledger.history_daily(&filter).unwrap();
            assert_eq!(days.days.iter().map(|d| d.count).sum::<i64>(), counted, "the days add up to the totals");
        });
        report.row(
            &format!("history: daily chart per provider, {name}, {n} transactions"),
            &format!("p50 {}, p99 {}", ms(chart.p50()), ms(chart.p99())),
            "< 20 ms",
            Some(chart.p99().as_secs_f64() * 1e3 < BUDGET_MS),
        );
    }

    report.para(format!(
        "{n} transactions over 2025 (one every {:.1} s; PesaVoucher 60 %, Telesend 25 % in ETB, GiftPesa 15 %; \
         91 % completed; 2 % training; 8 cashiers), inserted in {} (set-up, with the schema's triggers keeping \
         the daily totals); the file is {} MB, in the page cache. Schema, indexes and `transaction_day_totals` \
         exactly as migrated; no ANALYZE (the app runs none). Till time zone: {tz}. Each round asks for the first \
         page and then the totals, as the screen does; p50 / p99 over the rounds (up to 50, or about 10 s).",
        365.0 * 24.0 * 3600.0 / n as f64,
        secs(built),
        size / 1_000_000
    ));
    report.table(
        &[
            "filter (real business)",
            "transactions counted",
            "page p50 / p99",
            "totals p50 / p99",
            "page + totals",
            "rounds",
        ],
        &rows,
    );

    // The statements ledger/history.rs builds for these filters, re-typed
    // here for EXPLAIN QUERY PLAN (its own tests assert the same plans).
    let conn = Connection::open(&path).unwrap();
    let groups =
        "training, COALESCE(currency, ''), provider, operation, state, COUNT(*), COALESCE(SUM(amount_minor), 0)";
    let group_by = "GROUP BY training, currency, provider, operation, state";
    let page_sql = "SELECT * FROM transactions WHERE training = 0 AND created_at >= ?1 AND created_at < ?2
        ORDER BY created_at DESC, id DESC LIMIT 51";
    let edge_sql = format!(
        "SELECT {groups} FROM transactions WHERE training = 0 AND created_at >= ?1 AND created_at < ?2 {group_by}"
    );
    let days_sql = format!(
        "SELECT training, currency, provider, operation, state, SUM(n), SUM(total) FROM transaction_day_totals
         WHERE training = 0 AND day >= ?1 AND day < ?2 {group_by}"
    );
    let cashier_days_sql = format!(
        "SELECT training, currency, provider, operation, state, SUM(n), SUM(total)
         FROM transaction_cashier_day_totals WHERE training = 0 AND cashier = ?3 AND day >= ?1 AND day < ?2 {group_by}"
    );
    let cashier_sql = format!(
        "SELECT {groups} FROM transactions WHERE training = 0 AND cashier = ?3 COLLATE NOCASE
         AND created_at >= ?1 AND created_at < ?2 {group_by}"
    );
    let lookup_sql = "SELECT d.id FROM transaction_search JOIN transaction_search_docs d
        ON d.docid = transaction_search.rowid WHERE transaction_search MATCH ?1 LIMIT 5001";
    let like = "voucher_code LIKE ?4 ESCAPE '\\' OR code_masked LIKE ?4 ESCAPE '\\'
        OR provider_reference LIKE ?4 ESCAPE '\\' OR id LIKE ?4 ESCAPE '\\'";
    let named_sql = format!(
        "SELECT * FROM (SELECT value AS candidate FROM json_each(?1)) CROSS JOIN transactions ON id = candidate
         WHERE training = 0 AND created_at >= ?2 AND created_at < ?3 AND ({like})
         ORDER BY created_at DESC, id DESC LIMIT 51"
    );
    let hours_sql = "SELECT hour, training, currency, provider, operation, state, n, total
        FROM transaction_hour_totals WHERE training = 0 AND hour IN (SELECT value FROM json_each(?1))";
    let range = ("2025-06-01", "2025-07-01");
    report.para("Query plans (EXPLAIN QUERY PLAN) of the statements `ledger/history.rs` builds, as migrated:");
    report.code(format!(
        "recent(50):\n{}\n\nfirst page of a period:\n{}\n\ntotals, whole days (daily totals table):\n{}\n\n\
         totals, the partial days at a period's ends:\n{}\n\ntotals by cashier, whole days:\n{}\n\n\
         totals by cashier, the partial days:\n{}\n\nsearch, the index lookup:\n{}\n\n\
         search, the transactions it names (page; the totals read them alike):\n{}\n\n\
         daily chart, the whole hours at each day's edges:\n{}",
        plan(&conn, "SELECT * FROM transactions ORDER BY created_at DESC, id DESC LIMIT 50", []),
        plan(&conn, page_sql, [range.0, range.1]),
        plan(&conn, &days_sql, [range.0, range.1]),
        plan(&conn, &edge_sql, [range.0, range.1]),
        plan(&conn, &cashier_days_sql, [range.0, range.1, "Chebet"]),
        plan(&conn, &cashier_sql, [range.0, range.1, "Chebet"]),
        plan(&conn, lookup_sql, ["\"424\" AND \"242\""]),
        plan(&conn, &named_sql, ["[]", range.0, range.1, "%4242%"]),
        plan(&conn, hours_sql, ["[]"]),
    ));

    if missed.is_empty() {
        report.para("Every filter measured fits the budget.");
    } else {
        report.para(format!(
            "**Missed:** {}. Each is served by the statements planned above (a fragment under three characters, \
             or one the index finds in more than 5,000 transactions, reads the period row by row, as a search \
             did before the index); compare the load during this benchmark.",
            missed.join(", ")
        ));
    }
    report.finish();
}
