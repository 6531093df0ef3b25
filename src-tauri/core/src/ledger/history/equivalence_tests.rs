//! The history's fast paths (daily, per-cashier and hourly totals, the
//! search index) against the plainest reading of the same question: every
//! transaction loaded into memory and filtered one by one in Rust, as the
//! filter's documentation describes it. A few thousand generated
//! transactions (several cashiers in mixed case, providers, states,
//! currencies or none, training, times around local midnights), some then
//! finished, given a reference, or changed as a manager's correction would.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};

use super::daily::DailyTotals;
use super::{HistoryCursor, HistoryFilter, Operation, TimeBound, needles, search, stored_time};
use crate::ledger::transactions::Finish;
use crate::ledger::{AuditEntry, Ledger, Outcome, State};
use crate::providers::ProviderId;

/// SplitMix64: a fixed sequence, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

#[derive(Debug, Clone)]
struct Row {
    id: String,
    created_at: String,
    till_id: String,
    cashier: String,
    provider: String,
    operation: String,
    voucher_code: Option<String>,
    code_masked: Option<String>,
    amount_minor: Option<i64>,
    currency: Option<String>,
    state: String,
    provider_reference: Option<String>,
    training: bool,
}

const CASHIERS: [&str; 6] = ["Amina", "AMINA", "amina", "Baraka", "chebet", "Daudi"];
const PROVIDERS: [(&str, &str, Option<&str>); 5] = [
    ("pesavoucher", "redeem", Some("KES")),
    ("telesend", "redeem", Some("ETB")),
    ("giftpesa", "redeem", None),
    ("pesapal", "checkout", Some("USD")),
    ("bitpesa", "payout", Some("KES")),
];
const START: &str = "2026-11-18T00:00:00Z";

fn code(rng: &mut Rng, provider: &str, i: usize) -> Option<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut random = |n: usize| (0..n).map(|_| char::from(*rng.pick(ALPHABET))).collect::<String>();
    match provider {
        "pesavoucher" => Some(format!("NLV-{}", random(12))),
        "telesend" => Some(format!("TS-{}-{}", random(4), random(4))),
        // A phone number, unique per transaction (one voucher in flight at a time).
        "giftpesa" => Some(format!("2547{:02}{i:06}", rng.below(100))),
        _ => None,
    }
}

/// Writes `n` transactions through SQL (to choose their times) and the
/// ledger's own write paths for what happens to them after.
fn populate(ledger: &Ledger, rng: &mut Rng, n: usize) -> Vec<Row> {
    let start: DateTime<Utc> = START.parse().unwrap();
    let mut rows = Vec::with_capacity(n);
    let mut t = start;
    for i in 0..n {
        // Bursts and gaps: many rows near some instants, none for hours at others.
        t += chrono::Duration::seconds([1, 5, 30, 120, 300, 900][rng.below(6)]);
        let (provider, operation, currency) = *rng.pick(&PROVIDERS);
        let voucher_code = code(rng, provider, i);
        let row = Row {
            id: format!("{:08x}-{:04x}", i, rng.below(0x10000)),
            created_at: stored_time(t + chrono::Duration::milliseconds(rng.below(1000) as i64)),
            till_id: rng.pick(&["TILL-1", "TILL-2"]).to_string(),
            cashier: rng.pick(&CASHIERS).to_string(),
            provider: provider.into(),
            operation: operation.into(),
            code_masked: voucher_code.as_deref().map(crate::voucher_code::mask),
            voucher_code,
            amount_minor: (rng.below(8) != 0).then(|| rng.below(500_000) as i64),
            currency: currency.filter(|_| rng.below(10) != 0).map(String::from),
            state: "pending".into(),
            provider_reference: None,
            training: rng.below(12) == 0,
        };
        ledger
            .conn()
            .execute(
                "INSERT INTO transactions (id, created_at, updated_at, till_id, cashier, provider, operation,
                    voucher_code, code_masked, amount_minor, currency, state, owner, training)
                 VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'pending', 'x', ?11)",
                rusqlite::params![
                    row.id,
                    row.created_at,
                    row.till_id,
                    row.cashier,
                    row.provider,
                    row.operation,
                    row.voucher_code,
                    row.code_masked,
                    row.amount_minor,
                    row.currency,
                    row.training
                ],
            )
            .unwrap();
        rows.push(row);
    }
    let note = AuditEntry::new("amina", "redeem_outcome", Outcome::Info, "");
    for row in &mut rows {
        match rng.below(10) {
            // Still pending.
            0 => {}
            // Reference first (Pesapal's tracking id), outcome unknown.
            1 => {
                let reference = format!("ref-{}", rng.below(1_000_000));
                ledger.set_reference(&row.id, &reference, &note).unwrap();
                ledger.finish(&row.id, State::Unknown, &Finish::default(), &note).unwrap();
                row.provider_reference = Some(reference);
                row.state = "unknown".into();
            }
            // An outcome that brings an amount, a currency and a reference.
            _ => {
                let to = *rng.pick(&[State::Completed, State::Completed, State::Failed]);
                let finish = Finish {
                    amount_minor: (rng.below(3) == 0).then(|| rng.below(900_000) as i64),
                    currency: (rng.below(4) == 0).then(|| "KES".to_string()),
                    provider_reference: (rng.below(2) == 0).then(|| format!("PR-{:06}", rng.below(1_000_000))),
                    ..Finish::default()
                };
                ledger.finish(&row.id, to, &finish, &note).unwrap();
                row.state = to.as_str().into();
                row.amount_minor = finish.amount_minor.or(row.amount_minor);
                row.currency = finish.currency.or(row.currency.take());
                row.provider_reference = finish.provider_reference.or(row.provider_reference.take());
            }
        }
    }
    // A few corrections a manager's tool might make in SQL: a moved time
    // (across midnight), a renamed cashier, a removed row.
    for _ in 0..20 {
        let i = rng.below(rows.len());
        let row = &mut rows[i];
        let moved = stored_time(row.created_at.parse::<DateTime<Utc>>().unwrap() + chrono::Duration::hours(5));
        let cashier = rng.pick(&CASHIERS).to_string();
        ledger
            .conn()
            .execute(
                "UPDATE transactions SET created_at = ?2, cashier = ?3, state = 'failed' WHERE id = ?1",
                rusqlite::params![row.id, moved, cashier],
            )
            .unwrap();
        row.created_at = moved;
        row.cashier = cashier;
        row.state = "failed".into();
    }
    for _ in 0..10 {
        let row = rows.swap_remove(rng.below(rows.len()));
        ledger.conn().execute("DELETE FROM transactions WHERE id = ?1", [&row.id]).unwrap();
    }
    rows
}

/// LIKE '%needle%' as SQLite compares without ICU: ASCII letters in any case.
fn like(hay: Option<&str>, needle: &str) -> bool {
    hay.is_some_and(|h| h.to_ascii_lowercase().contains(&needle.to_ascii_lowercase()))
}

/// The filter as its documentation states it, one row at a time.
fn matches(f: &HistoryFilter, tz: &impl TimeZone, r: &Row) -> bool {
    let (from, to) = f.bounds_in(tz);
    let needles = needles(f.search.as_deref().unwrap_or(""));
    (f.include_training || !r.training)
        && from.is_none_or(|from| r.created_at >= from)
        && to.is_none_or(|to| r.created_at < to)
        && f.provider.is_none_or(|p| r.provider == p.as_str())
        && f.state.is_none_or(|s| r.state == s.as_str())
        && f.operation.is_none_or(|o| r.operation == o.as_str())
        && f.cashier.as_deref().is_none_or(|c| r.cashier.eq_ignore_ascii_case(c.trim()))
        && f.till_id.as_deref().is_none_or(|t| r.till_id == t.trim())
        && (needles.is_empty()
            || needles.iter().any(|n| {
                like(r.voucher_code.as_deref(), n)
                    || like(r.code_masked.as_deref(), n)
                    || like(r.provider_reference.as_deref(), n)
                    || like(Some(&r.id), n)
            }))
}

/// (training, currency, provider, operation, state) → (count, sum).
type Groups = BTreeMap<(bool, String, String, String, String), (i64, i64)>;

fn group_key(r: &Row) -> (bool, String, String, String, String) {
    (r.training, r.currency.clone().unwrap_or_default(), r.provider.clone(), r.operation.clone(), r.state.clone())
}

fn expected_totals(rows: &[&Row]) -> Groups {
    let mut g = Groups::new();
    for r in rows {
        let e = g.entry(group_key(r)).or_default();
        e.0 += 1;
        e.1 += r.amount_minor.unwrap_or(0);
    }
    g
}

/// (day, training, currency, provider, operation) → (count, completed count, completed sum).
type Days = BTreeMap<(NaiveDate, bool, String, String, String), (i64, i64, i64)>;

fn expected_days<Tz: TimeZone>(rows: &[&Row], tz: &Tz) -> Days {
    let mut d = Days::new();
    for r in rows {
        let day = r.created_at.parse::<DateTime<Utc>>().unwrap().with_timezone(tz).date_naive();
        let e = d
            .entry((day, r.training, r.currency.clone().unwrap_or_default(), r.provider.clone(), r.operation.clone()))
            .or_default();
        e.0 += 1;
        if r.state == "completed" {
            e.1 += 1;
            e.2 += r.amount_minor.unwrap_or(0);
        }
    }
    d
}

fn got_days(d: &DailyTotals) -> Days {
    d.days
        .iter()
        .map(|t| {
            let key =
                (t.day, t.training, t.currency.clone().unwrap_or_default(), t.provider.clone(), t.operation.clone());
            (key, (t.count, t.completed_count, t.completed_minor))
        })
        .collect()
}

/// Search texts: fragments of stored codes, masks, references and ids of
/// every length from 1, in other cases, across the mask's bullets, phones
/// as typed, and texts found nowhere.
fn fragments(rng: &mut Rng, rows: &[Row]) -> Vec<String> {
    let mut out = vec![
        "•••".to_string(),
        "•-".into(),
        "nlv-".into(),
        "PR-0".into(),
        "ref-".into(),
        "zzzzqqq".into(),
        "%".into(),
        "_a".into(),
        "\"".into(),
        "a\"b".into(),
        "0".into(),
        "00000".into(),
    ];
    for _ in 0..60 {
        let r = rng.pick(rows);
        let fields: Vec<&str> = [r.voucher_code.as_deref(), r.code_masked.as_deref(), r.provider_reference.as_deref()]
            .into_iter()
            .flatten()
            .chain([r.id.as_str()])
            .collect();
        let field: Vec<char> = rng.pick(&fields).chars().collect();
        let len = 1 + rng.below(field.len().min(9));
        let at = rng.below(field.len() - len + 1);
        let mut s: String = field[at..at + len].iter().collect();
        match rng.below(4) {
            0 => s = s.to_ascii_lowercase(),
            1 => s = format!(" {} ", s.to_ascii_uppercase()),
            _ => {}
        }
        if s.starts_with("254") && rng.below(2) == 0 {
            // A phone typed the local way: 0 instead of the country code.
            s = format!("0{}", &s[3..]);
        }
        out.push(s);
    }
    out
}

fn at(s: &str) -> Option<TimeBound> {
    Some(s.parse().unwrap())
}

fn every_page(ledger: &Ledger, f: &HistoryFilter) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<HistoryCursor> = None;
    loop {
        let page = ledger.history_page(f, cursor.as_ref(), 37).unwrap();
        ids.extend(page.rows.iter().map(|r| r.id.clone()));
        match page.next {
            Some(next) => cursor = Some(next),
            None => return ids,
        }
    }
}

fn got_totals(ledger: &Ledger, f: &HistoryFilter) -> Groups {
    let t = ledger.history_totals(f).unwrap();
    t.groups
        .iter()
        .map(|g| {
            let key = (
                g.training,
                g.currency.clone().unwrap_or_default(),
                g.provider.clone(),
                g.operation.clone(),
                g.state.as_str().to_string(),
            );
            (key, (g.count, g.amount_minor))
        })
        .collect()
}

#[test]
fn pages_totals_and_daily_charts_equal_a_plain_reading_of_every_transaction() {
    let (_dir, ledger) = crate::ledger::tests::ledger();
    let mut rng = Rng(0x6b61_756e_7461);
    let rows = populate(&ledger, &mut rng, 3_000);
    let last: DateTime<Utc> = rows.iter().map(|r| r.created_at.parse::<DateTime<Utc>>().unwrap()).max().unwrap();
    assert!(last - START.parse::<DateTime<Utc>>().unwrap() > chrono::Duration::days(5), "several days: {last}");

    let periods = [
        (None, None),
        (at("2026-11-19T21:00:00Z"), at("2026-11-22T21:00:00Z")),
        (at("2026-11-19T13:14:15.5Z"), at("2026-11-23T02:30:00Z")),
        (at("2026-11-20T05:00:00Z"), at("2026-11-20T13:00:00Z")),
        (at("2026-11-19"), at("2026-11-21")),
        (None, at("2026-11-21T18:30:00Z")),
        (at("2026-11-20T07:45:00Z"), at("2026-11-24T22:20:00.250Z")),
        (at("2026-11-22T20:59:59.999Z"), at("2026-11-23T03:10:00Z")),
    ];
    let mut filters = Vec::new();
    for (since, until) in periods {
        let p = HistoryFilter { since, until, ..Default::default() };
        filters.extend([
            p.clone(),
            HistoryFilter { include_training: true, ..p.clone() },
            HistoryFilter { cashier: Some(" amina ".into()), ..p.clone() },
            HistoryFilter { cashier: Some("BARAKA".into()), include_training: true, ..p.clone() },
            HistoryFilter { cashier: Some("chebet".into()), provider: Some(ProviderId::Telesend), ..p.clone() },
            HistoryFilter { state: Some(State::Completed), ..p.clone() },
            HistoryFilter { provider: Some(ProviderId::GiftPesa), state: Some(State::Unknown), ..p.clone() },
            HistoryFilter { operation: Some(Operation::Checkout), ..p.clone() },
            HistoryFilter { till_id: Some("TILL-2".into()), ..p.clone() },
        ]);
    }
    let mut indexed = 0;
    for search in fragments(&mut rng, &rows) {
        let (since, until) = *rng.pick(&periods);
        let f = HistoryFilter { since, until, search: Some(search.clone()), ..Default::default() };
        indexed += usize::from(search::candidates(&ledger.conn(), &f.needles()).unwrap().is_some());
        filters.push(HistoryFilter { include_training: rng.below(2) == 0, ..f.clone() });
        filters.push(HistoryFilter { cashier: Some("Amina".into()), ..f });
    }
    assert!(indexed >= 30, "most searches went through the index: {indexed}");

    let mut via_cashier_days = 0;
    for f in &filters {
        let mut expected: Vec<&Row> = rows.iter().filter(|r| matches(f, &chrono::Local, r)).collect();
        expected.sort_by(|a, b| (&b.created_at, &b.id).cmp(&(&a.created_at, &a.id)));
        let ids: Vec<&str> = expected.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(every_page(&ledger, f), ids, "pages of {f:?}");
        assert_eq!(got_totals(&ledger, f), expected_totals(&expected), "totals of {f:?}");
        via_cashier_days += usize::from(f.day_table() == Some("transaction_cashier_day_totals"));
    }
    assert!(via_cashier_days >= 18, "{via_cashier_days}");

    // Charts in zones a whole number of hours from UTC, half an hour off, and
    // behind it; over whole local days and partial ones.
    let zones = [
        FixedOffset::east_opt(3 * 3600).unwrap(),
        FixedOffset::east_opt(5 * 3600 + 1800).unwrap(),
        FixedOffset::west_opt(4 * 3600).unwrap(),
        FixedOffset::east_opt(0).unwrap(),
    ];
    let now: DateTime<Utc> = last + chrono::Duration::hours(1);
    for tz in &zones {
        for f in filters.iter().filter(|f| f.search.is_none()).chain(filters.iter().step_by(7)) {
            let (from, to) = f.range_in(tz);
            let to = to.unwrap_or_else(|| {
                let day = now.with_timezone(tz).date_naive().succ_opt().unwrap();
                tz.from_local_datetime(&day.and_time(chrono::NaiveTime::MIN)).unwrap().with_timezone(&Utc)
            });
            let in_chart: Vec<&Row> = rows
                .iter()
                .filter(|r| matches(f, tz, r))
                .filter(|r| r.created_at < stored_time(to) && from.is_none_or(|from| r.created_at >= stored_time(from)))
                .collect();
            let daily = ledger.history_daily_in(tz, f, now).unwrap();
            assert_eq!(got_days(&daily), expected_days(&in_chart, tz), "chart of {f:?} at {tz}");
        }
    }
}
