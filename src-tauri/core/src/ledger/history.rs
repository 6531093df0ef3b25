//! The manager's history: transactions filtered by time, provider, state,
//! cashier, till, operation and a search fragment, keyset-paged newest
//! first, and the totals of a filter in integer minor units.
//!
//! Real business only by default: training transactions are left out unless
//! asked for, and even then every total keeps them apart (grouped by the
//! training flag), so they never add to a real figure.
//!
//! Every query is planned on an index of `sql/004_history_indexes.sql` or
//! `sql/006_history_search_and_totals.sql` (proven by `EXPLAIN QUERY PLAN`
//! in the tests below):
//! - a page walks the index of its narrowest filter (provider, state,
//!   cashier, or time alone) backwards from the cursor and stops after
//!   `limit` rows: page 1,000 costs what page 1 does;
//! - totals read `transaction_day_totals` (per UTC day, kept by triggers),
//!   or `transaction_cashier_day_totals` for one cashier, for the whole days
//!   of the period, and the transactions for the partial days at its ends;
//!   a filter by till or search counts the period's transactions instead
//!   (not kept per day).
//!
//! A search fragment matches inside codes and references, which no B-tree
//! serves: a fragment of three or more characters is looked up in the
//! trigram index first (`search`), which names the few transactions that
//! may hold it; the same `LIKE` test as ever then decides on each. A shorter
//! or very common fragment is checked row by row within the range the other
//! filters select, as before.
//!
//! `equivalence_tests` holds every fast path to a plain reading of every
//! transaction.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rusqlite::types::Value;
use serde::{Deserialize, Deserializer, Serialize};

use super::audit::{self, AuditRow};
use super::transactions::{COLUMNS, State, TransactionRow, read};
use super::{Ledger, LedgerError, stored_time};
use crate::providers::ProviderId;

pub mod daily;
#[cfg(test)]
mod equivalence_tests;
mod search;
pub use daily::{DailyTotal, DailyTotals};

/// The most rows one page may hold.
pub const MAX_PAGE: u32 = 10_000;
/// The longest search fragment accepted (a voucher code is at most 64).
pub const MAX_SEARCH: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryFilterError {
    #[error("“{0}” is not a date (YYYY-MM-DD) or a time (RFC 3339, e.g. 2026-11-25T17:00:00Z)")]
    BadTime(String),
    #[error("“{0}” is not a state: use pending, completed, failed or unknown")]
    BadState(String),
    #[error("“{0}” is not an operation: use redeem, create_voucher, checkout or payout")]
    BadOperation(String),
    #[error("The search text has at most {MAX_SEARCH} characters")]
    SearchTooLong,
    #[error("A cashier or till name has at most 64 printable characters")]
    BadName,
    #[error("The start of the period is after its end")]
    EmptyPeriod,
}

/// One end of a period: a day of the till's calendar (its local time zone),
/// or an exact instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeBound {
    Day(NaiveDate),
    At(DateTime<Utc>),
}

impl TimeBound {
    /// Where a period starting here begins, inclusive: a day from its local midnight.
    pub fn start_in<Tz: TimeZone>(&self, tz: &Tz) -> DateTime<Utc> {
        match self {
            TimeBound::Day(d) => local_midnight(*d, tz),
            TimeBound::At(t) => *t,
        }
    }

    /// Where a period ending here ends, exclusive: a day is included whole
    /// (up to the next local midnight); an instant is the first one left out.
    pub fn end_in<Tz: TimeZone>(&self, tz: &Tz) -> DateTime<Utc> {
        match self {
            TimeBound::Day(d) => local_midnight(d.succ_opt().unwrap_or(NaiveDate::MAX), tz),
            TimeBound::At(t) => *t,
        }
    }
}

/// The first instant of a local day. Where a clock change skips midnight
/// (not in East Africa, which keeps no daylight saving), the day starts at
/// the first local time that exists.
fn local_midnight<Tz: TimeZone>(day: NaiveDate, tz: &Tz) -> DateTime<Utc> {
    let midnight = day.and_time(chrono::NaiveTime::MIN);
    (0..=24 * 60)
        .find_map(|m| tz.from_local_datetime(&(midnight + chrono::Duration::minutes(m))).earliest())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| midnight.and_utc())
}

impl FromStr for TimeBound {
    type Err = HistoryFilterError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let bad = || HistoryFilterError::BadTime(crate::text::excerpt(s, 40));
        if s.len() == 10 {
            return NaiveDate::parse_from_str(s, "%Y-%m-%d").map(TimeBound::Day).map_err(|_| bad());
        }
        DateTime::parse_from_rfc3339(s).map(|t| TimeBound::At(t.with_timezone(&Utc))).map_err(|_| bad())
    }
}

impl fmt::Display for TimeBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeBound::Day(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            TimeBound::At(t) => f.write_str(&stored_time(*t)),
        }
    }
}

impl Serialize for TimeBound {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TimeBound {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// What a transaction did, as the ledger records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Redeem,
    CreateVoucher,
    Checkout,
    Payout,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Redeem => "redeem",
            Operation::CreateVoucher => "create_voucher",
            Operation::Checkout => "checkout",
            Operation::Payout => "payout",
        }
    }
}

impl FromStr for Operation {
    type Err = HistoryFilterError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Operation::Redeem, Operation::CreateVoucher, Operation::Checkout, Operation::Payout]
            .into_iter()
            .find(|o| o.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| HistoryFilterError::BadOperation(crate::text::excerpt(s.trim(), 32)))
    }
}

/// A transaction state as a filter names it.
pub fn parse_state(s: &str) -> Result<State, HistoryFilterError> {
    [State::Pending, State::Completed, State::Failed, State::Unknown]
        .into_iter()
        .find(|st| st.as_str().eq_ignore_ascii_case(s.trim()))
        .ok_or_else(|| HistoryFilterError::BadState(crate::text::excerpt(s.trim(), 32)))
}

fn de_state<'de, D: Deserializer<'de>>(d: D) -> Result<Option<State>, D::Error> {
    Option::<String>::deserialize(d)?.map(|s| parse_state(&s).map_err(serde::de::Error::custom)).transpose()
}

/// What the manager asked to see. Every field narrows; the default is all
/// real business.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HistoryFilter {
    /// From this local day, or this instant, inclusive.
    pub since: Option<TimeBound>,
    /// To this local day, inclusive, or up to this instant, exclusive.
    pub until: Option<TimeBound>,
    pub provider: Option<ProviderId>,
    #[serde(deserialize_with = "de_state")]
    pub state: Option<State>,
    /// The cashier's name, any case.
    pub cashier: Option<String>,
    pub till_id: Option<String>,
    pub operation: Option<Operation>,
    /// A fragment of a voucher code or phone (any case, spaces ignored), of
    /// the visible tail of a masked code, of the provider's reference or of
    /// our transaction id.
    pub search: Option<String>,
    /// Training transactions too (kept apart in the totals).
    pub include_training: bool,
}

impl HistoryFilter {
    /// Refuses what cannot be a filter; a valid filter never fails later.
    pub fn validate(&self) -> Result<(), HistoryFilterError> {
        if self.search.as_deref().is_some_and(|s| s.chars().count() > MAX_SEARCH) {
            return Err(HistoryFilterError::SearchTooLong);
        }
        let bad_name = |n: &Option<String>| {
            n.as_deref()
                .is_some_and(|n| n.trim().is_empty() || n.chars().count() > 64 || n.chars().any(char::is_control))
        };
        if bad_name(&self.cashier) || bad_name(&self.till_id) {
            return Err(HistoryFilterError::BadName);
        }
        if let (Some(since), Some(until)) = (&self.since, &self.until)
            && since.start_in(&chrono::Local) > until.end_in(&chrono::Local)
        {
            return Err(HistoryFilterError::EmptyPeriod);
        }
        Ok(())
    }

    /// The period `[since, until)` in UTC.
    pub fn range_in<Tz: TimeZone>(&self, tz: &Tz) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        (self.since.map(|b| b.start_in(tz)), self.until.map(|b| b.end_in(tz)))
    }

    /// The UTC bounds `[since, until)` as `created_at` stores them.
    pub fn bounds_in<Tz: TimeZone>(&self, tz: &Tz) -> (Option<String>, Option<String>) {
        let (from, to) = self.range_in(tz);
        (from.map(stored_time), to.map(stored_time))
    }

    /// The daily totals table that keeps what this filter narrows by, if
    /// any: one cashier has a table of their own; a till or a search none.
    fn day_table(&self) -> Option<&'static str> {
        if self.till_id.is_some() || !self.needles().is_empty() {
            None
        } else if self.cashier.is_some() {
            Some("transaction_cashier_day_totals")
        } else {
            Some("transaction_day_totals")
        }
    }

    /// Narrows by something no daily totals keep.
    fn needs_rows(&self) -> bool {
        self.day_table().is_none()
    }

    fn needles(&self) -> Vec<String> {
        self.search.as_deref().map(needles).unwrap_or_default()
    }

    /// For the audit log: what was asked, with the UTC bounds it meant.
    /// The search text is masked like a voucher code (it may be a whole code
    /// or phone number), so the log never holds one.
    pub fn summary(&self) -> String {
        let (from, to) = self.bounds_in(&chrono::Local);
        let mut parts = Vec::new();
        if let (Some(b), Some(utc)) = (&self.since, &from) {
            parts.push(format!("since {b} ({utc})"));
        }
        if let (Some(b), Some(utc)) = (&self.until, &to) {
            parts.push(format!("until {b} (before {utc})"));
        }
        if let Some(p) = self.provider {
            parts.push(format!("provider {p}"));
        }
        if let Some(s) = self.state {
            parts.push(format!("state {s}"));
        }
        if let Some(o) = self.operation {
            parts.push(format!("operation {}", o.as_str()));
        }
        if let Some(c) = &self.cashier {
            parts.push(format!("cashier {}", c.trim()));
        }
        if let Some(t) = &self.till_id {
            parts.push(format!("till {}", t.trim()));
        }
        if let Some(s) = self.search.as_deref().map(compact).filter(|s| !s.is_empty()) {
            parts.push(format!("search {}", crate::voucher_code::mask(&s)));
        }
        parts.push(if self.include_training { "training included" } else { "real business only" }.into());
        parts.join("; ")
    }
}

/// Where the next page starts: the last row of this one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryCursor {
    pub created_at: String,
    pub id: String,
}

/// One page of history, newest first, and where the next one starts. The
/// totals of the whole filter come with the first page a till shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryPage<R = TransactionRow> {
    pub rows: Vec<R>,
    /// `None` on the last page.
    pub next: Option<HistoryCursor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub totals: Option<HistoryTotals>,
}

impl<R> HistoryPage<R> {
    pub fn map<T>(self, f: impl FnMut(R) -> T) -> HistoryPage<T> {
        HistoryPage { rows: self.rows.into_iter().map(f).collect(), next: self.next, totals: self.totals }
    }
}

/// Count and sum of one group of transactions. Amounts are minor units of
/// `currency`; a row without an amount counts but adds nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TotalsGroup {
    pub training: bool,
    pub currency: Option<String>,
    pub provider: String,
    pub operation: String,
    pub state: State,
    pub count: i64,
    pub amount_minor: i64,
}

/// One currency's figures for one operation: what completed, and what is
/// still open (pending or unknown: money that may or may not have moved).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CurrencyTotal {
    pub training: bool,
    pub currency: Option<String>,
    pub operation: String,
    pub count: i64,
    pub completed_count: i64,
    pub completed_minor: i64,
    pub open_count: i64,
    pub open_minor: i64,
    pub failed_count: i64,
}

/// The totals of a filter. Never a sum across currencies, operations or the
/// training flag.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HistoryTotals {
    pub count: i64,
    /// By training flag, currency, provider, operation and state.
    pub groups: Vec<TotalsGroup>,
    /// By training flag, currency and operation.
    pub by_currency: Vec<CurrencyTotal>,
}

impl HistoryTotals {
    pub(crate) fn from_groups(groups: Vec<TotalsGroup>) -> Result<HistoryTotals, LedgerError> {
        let overflow = |v: i64| LedgerError::Sqlite(rusqlite::Error::IntegralValueOutOfRange(0, v));
        let add = |a: i64, b: i64| a.checked_add(b).ok_or_else(|| overflow(a));
        let mut by_currency: Vec<CurrencyTotal> = Vec::new();
        let mut count = 0;
        for g in &groups {
            count = add(count, g.count)?;
            // Find the (training, currency, operation) bucket among the few so far.
            let i = match by_currency
                .iter()
                .position(|c| c.training == g.training && c.currency == g.currency && c.operation == g.operation)
            {
                Some(i) => i,
                None => {
                    by_currency.push(CurrencyTotal {
                        training: g.training,
                        currency: g.currency.clone(),
                        operation: g.operation.clone(),
                        ..CurrencyTotal::default()
                    });
                    by_currency.len() - 1
                }
            };
            let c = &mut by_currency[i];
            c.count = add(c.count, g.count)?;
            match g.state {
                State::Completed => {
                    c.completed_count = add(c.completed_count, g.count)?;
                    c.completed_minor = add(c.completed_minor, g.amount_minor)?;
                }
                State::Pending | State::Unknown => {
                    c.open_count = add(c.open_count, g.count)?;
                    c.open_minor = add(c.open_minor, g.amount_minor)?;
                }
                State::Failed => c.failed_count = add(c.failed_count, g.count)?,
            }
        }
        Ok(HistoryTotals { count, groups, by_currency })
    }
}

/// Spaces dropped: scanners and people add them to codes and phone numbers.
fn compact(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The texts a search fragment is looked for as: itself, and for digits a
/// phone number is stored without `+` and without a local leading 0
/// (`0720 123` finds `254720123456`).
fn needles(search: &str) -> Vec<String> {
    let s = compact(search);
    if s.is_empty() {
        return vec![];
    }
    let mut out = vec![s.clone()];
    let digits = s.strip_prefix('+').unwrap_or(&s);
    if digits.len() >= 2 && digits.chars().all(|c| c.is_ascii_digit()) {
        out.push(digits.to_string());
        if let Some(national) = digits.strip_prefix('0').filter(|n| n.len() >= 2) {
            out.push(national.to_string());
        }
    }
    out.dedup();
    out
}

/// `%fragment%` for LIKE, with LIKE's own wildcards taken literally.
fn like_pattern(fragment: &str) -> String {
    let mut p = String::with_capacity(fragment.len() + 2);
    p.push('%');
    for c in fragment.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

/// The transactions a search's index lookup named (a JSON array of ids, the
/// statement's first value), each then read by its primary key.
const CANDIDATES: &str = "(SELECT value AS candidate FROM json_each(?)) CROSS JOIN transactions ON id = candidate";

/// A filter as SQL: what it reads, the WHERE clause (starting `WHERE`) and
/// its values.
struct Where {
    source: &'static str,
    sql: String,
    values: Vec<Value>,
}

impl Where {
    /// The filter over the period `[from, to)` (UTC), after the cursor.
    fn new(
        filter: &HistoryFilter,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        after: Option<&HistoryCursor>,
    ) -> Where {
        let mut w = Where::kept_by_day(filter);
        if let Some(c) = &filter.cashier {
            w.push("cashier = ? COLLATE NOCASE", [text(c.trim())]);
        }
        if let Some(t) = &filter.till_id {
            w.push("till_id = ?", [text(t.trim())]);
        }
        if let Some(from) = from {
            w.push("created_at >= ?", [stored_time(from).into()]);
        }
        if let Some(to) = to {
            w.push("created_at < ?", [stored_time(to).into()]);
        }
        if let Some(c) = after {
            // The first condition bounds the index range; the second skips
            // the rows of the cursor's own instant already shown.
            w.push("created_at <= ?", [c.created_at.clone().into()]);
            w.push("(created_at < ? OR id < ?)", [c.created_at.clone().into(), c.id.clone().into()]);
        }
        let needles = filter.needles();
        if !needles.is_empty() {
            let mut any = Vec::new();
            for n in &needles {
                let pattern = like_pattern(n);
                any.push(
                    "voucher_code LIKE ? ESCAPE '\\' OR code_masked LIKE ? ESCAPE '\\' \
                     OR provider_reference LIKE ? ESCAPE '\\' OR id LIKE ? ESCAPE '\\'",
                );
                w.values.extend(std::iter::repeat_n(Value::from(pattern), 4));
            }
            w.push(&format!("({})", any.join(" OR ")), []);
        }
        w
    }

    /// The same filter over only the transactions of `candidates` (see
    /// `search::candidates`), when the index could narrow the search.
    fn over(mut self, candidates: Option<String>) -> Where {
        if let Some(ids) = candidates {
            self.source = CANDIDATES;
            self.values.insert(0, Value::Text(ids));
        }
        self
    }

    /// The filter's conditions on columns the daily totals keep too.
    fn kept_by_day(filter: &HistoryFilter) -> Where {
        let mut w = Where { source: "transactions", sql: String::new(), values: Vec::new() };
        // A literal, not a value, so the statement says what it counts.
        if !filter.include_training {
            w.push("training = 0", []);
        }
        if let Some(p) = filter.provider {
            w.push("provider = ?", [text(p.as_str())]);
        }
        if let Some(s) = filter.state {
            w.push("state = ?", [text(s.as_str())]);
        }
        if let Some(o) = filter.operation {
            w.push("operation = ?", [text(o.as_str())]);
        }
        w
    }

    /// The daily totals of the filter, for whole UTC days `[first, end)`,
    /// from the table that keeps what it narrows by.
    fn days(filter: &HistoryFilter, first: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> Where {
        let day = |t: DateTime<Utc>| Value::Text(t.format("%Y-%m-%d").to_string());
        let mut w = Where::kept_by_day(filter);
        w.source = filter.day_table().unwrap_or("transaction_day_totals");
        if let Some(c) = &filter.cashier {
            // The table's cashier column compares in any case.
            w.push("cashier = ?", [text(c.trim())]);
        }
        if let Some(first) = first {
            w.push("day >= ?", [day(first)]);
        }
        if let Some(end) = end {
            w.push("day < ?", [day(end)]);
        }
        w
    }

    fn push<const N: usize>(&mut self, condition: &str, values: [Value; N]) {
        self.sql.push_str(if self.sql.is_empty() { " WHERE " } else { " AND " });
        self.sql.push_str(condition);
        self.values.extend(values);
    }
}

fn page_sql(w: &Where) -> String {
    format!("SELECT {COLUMNS} FROM {}{} ORDER BY created_at DESC, id DESC LIMIT ?", w.source, w.sql)
}

fn totals_sql(w: &Where) -> String {
    format!(
        "SELECT training, COALESCE(currency, ''), provider, operation, state, COUNT(*), COALESCE(SUM(amount_minor), 0)
         FROM {}{}
         GROUP BY training, currency, provider, operation, state",
        w.source, w.sql
    )
}

fn day_totals_sql(w: &Where) -> String {
    format!(
        "SELECT training, currency, provider, operation, state, SUM(n), SUM(total)
         FROM {}{}
         GROUP BY training, currency, provider, operation, state",
        w.source, w.sql
    )
}

/// Midnight UTC at or after `t`.
fn day_at_or_after(t: DateTime<Utc>) -> DateTime<Utc> {
    let midnight = day_before_or_at(t);
    if midnight == t { t } else { midnight + chrono::Duration::days(1) }
}

/// Midnight UTC at or before `t`.
fn day_before_or_at(t: DateTime<Utc>) -> DateTime<Utc> {
    t.date_naive().and_time(chrono::NaiveTime::MIN).and_utc()
}

/// (training, currency or "", provider, operation, state) → (count, sum).
type Groups = std::collections::BTreeMap<(bool, String, String, String, String), (i64, i64)>;

fn add_groups(conn: &rusqlite::Connection, sql: &str, w: &Where, into: &mut Groups) -> Result<(), LedgerError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(w.values.iter()))?;
    while let Some(r) = rows.next()? {
        let key = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
        let (count, sum): (i64, i64) = (r.get(5)?, r.get(6)?);
        let slot = into.entry(key).or_default();
        let overflow = || LedgerError::Sqlite(rusqlite::Error::IntegralValueOutOfRange(6, sum));
        *slot = (slot.0.checked_add(count).ok_or_else(overflow)?, slot.1.checked_add(sum).ok_or_else(overflow)?);
    }
    Ok(())
}

/// The statements whose groups add up to the totals of `[from, to)`: the
/// daily totals for the whole UTC days inside, the transactions for the rest
/// (only those of `candidates`, when a search's index lookup named them).
fn totals_plan(
    filter: &HistoryFilter,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    candidates: Option<String>,
) -> Vec<(String, Where)> {
    let rows = |from, to| {
        let w = Where::new(filter, from, to, None).over(candidates.clone());
        (totals_sql(&w), w)
    };
    let (first, end) = (from.map(day_at_or_after), to.map(day_before_or_at));
    let no_whole_day = matches!((first, end), (Some(first), Some(end)) if first >= end);
    if filter.needs_rows() || no_whole_day {
        return vec![rows(from, to)];
    }
    let mut plan = Vec::new();
    if let (Some(from), Some(first)) = (from, first)
        && from < first
    {
        plan.push(rows(Some(from), Some(first)));
    }
    let days = Where::days(filter, first, end);
    plan.push((day_totals_sql(&days), days));
    if let (Some(end), Some(to)) = (end, to)
        && end < to
    {
        plan.push(rows(Some(end), Some(to)));
    }
    plan
}

impl Ledger {
    /// Up to `limit` rows of the filter, newest first, after the cursor of
    /// the previous page (none: from the newest). Keyset paging: page 1,000
    /// costs what page 1 does.
    pub fn history_page(
        &self,
        filter: &HistoryFilter,
        after: Option<&HistoryCursor>,
        limit: u32,
    ) -> Result<HistoryPage, LedgerError> {
        let limit = limit.clamp(1, MAX_PAGE);
        let (from, to) = filter.range_in(&chrono::Local);
        let conn = self.conn();
        let w = Where::new(filter, from, to, after).over(search::candidates(&conn, &filter.needles())?);
        let mut stmt = conn.prepare_cached(&page_sql(&w))?;
        let values = w.values.iter().cloned().chain([Value::from(i64::from(limit) + 1)]);
        let mut rows = stmt.query_map(rusqlite::params_from_iter(values), read)?.collect::<Result<Vec<_>, _>>()?;
        let next = (rows.len() > limit as usize).then(|| {
            rows.truncate(limit as usize);
            let last = rows.last().expect("limit is at least 1");
            HistoryCursor { created_at: last.created_at.clone(), id: last.id.clone() }
        });
        Ok(HistoryPage { rows, next, totals: None })
    }

    /// Count and sum of every transaction of the filter, by training flag,
    /// currency, provider, operation and state, in integer minor units.
    ///
    /// Whole UTC days inside the period are read from `transaction_day_totals`
    /// (kept by triggers in the same transaction as every change), the
    /// partial days at its ends from the transactions themselves: a year
    /// costs about what two days do. A filter by cashier, till or search
    /// counts the transactions of the whole period (those are not kept by day).
    pub fn history_totals(&self, filter: &HistoryFilter) -> Result<HistoryTotals, LedgerError> {
        let (from, to) = filter.range_in(&chrono::Local);
        let conn = self.conn();
        let candidates = search::candidates(&conn, &filter.needles())?;
        let mut groups = Groups::new();
        for (sql, w) in totals_plan(filter, from, to, candidates) {
            add_groups(&conn, &sql, &w, &mut groups)?;
        }
        let groups = groups
            .into_iter()
            .filter(|(_, (count, _))| *count != 0)
            .map(|((training, currency, provider, operation, state), (count, amount_minor))| TotalsGroup {
                training,
                currency: (!currency.is_empty()).then_some(currency),
                provider,
                operation,
                state: parse_state(&state).unwrap_or(State::Pending),
                count,
                amount_minor,
            })
            .collect();
        HistoryTotals::from_groups(groups)
    }

    /// One transaction and every audit row that names it, oldest first,
    /// read under one lock so the two agree.
    pub fn transaction_detail(&self, id: &str) -> Result<Option<TransactionTrail>, LedgerError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM transactions WHERE id = ?1"))?;
        let Some(transaction) = stmt.query_map([id], read)?.next().transpose()? else {
            return Ok(None);
        };
        let mut stmt =
            conn.prepare_cached(&format!("{} WHERE transaction_id = ?1 ORDER BY seq", audit::SELECT_ROWS))?;
        let events = stmt.query_map([id], audit::read_row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(Some(TransactionTrail { transaction, events }))
    }
}

/// A transaction and its whole event trail, for the detail view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TransactionTrail {
    pub transaction: TransactionRow,
    pub events: Vec<AuditRow>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Intent;
    use crate::ledger::transactions::Finish;
    use crate::ledger::{AuditEntry, Outcome};
    use chrono::FixedOffset;

    /// A transaction written straight into the table, at a chosen time.
    struct Tx {
        id: &'static str,
        at: &'static str,
        provider: &'static str,
        operation: &'static str,
        code: Option<&'static str>,
        amount: Option<i64>,
        currency: Option<&'static str>,
        state: &'static str,
        cashier: &'static str,
        reference: Option<&'static str>,
        training: bool,
    }

    const BASE: Tx = Tx {
        id: "",
        at: "",
        provider: "pesavoucher",
        operation: "redeem",
        code: None,
        amount: Some(75_000),
        currency: Some("KES"),
        state: "completed",
        cashier: "Amina",
        reference: None,
        training: false,
    };

    fn insert(ledger: &Ledger, t: &Tx) {
        ledger
            .conn()
            .execute(
                "INSERT INTO transactions (id, created_at, updated_at, till_id, cashier, provider, operation,
                    voucher_code, code_masked, amount_minor, currency, state, provider_reference, owner, training)
                 VALUES (?1, ?2, ?2, 'TILL-1', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'x', ?12)",
                rusqlite::params![
                    t.id,
                    t.at,
                    t.cashier,
                    t.provider,
                    t.operation,
                    t.code,
                    t.code.map(crate::voucher_code::mask),
                    t.amount,
                    t.currency,
                    t.state,
                    t.reference,
                    t.training
                ],
            )
            .unwrap();
    }

    fn at(s: &str) -> Option<TimeBound> {
        Some(s.parse().unwrap())
    }

    fn ids(page: &HistoryPage) -> Vec<&str> {
        page.rows.iter().map(|r| r.id.as_str()).collect()
    }

    /// A small day of business in three currencies, with training beside it.
    fn sample() -> (tempfile::TempDir, Ledger) {
        let (dir, ledger) = crate::ledger::tests::ledger();
        let rows = [
            Tx { id: "a", at: "2026-11-25T06:00:00.000Z", code: Some("NLV-AAAA1111"), ..BASE },
            Tx { id: "b", at: "2026-11-25T07:00:00.000Z", amount: Some(120_050), code: Some("NLV-BBBB2222"), ..BASE },
            Tx { id: "c", at: "2026-11-25T08:00:00.000Z", state: "failed", code: Some("NLV-CCCC3333"), ..BASE },
            Tx {
                id: "d",
                at: "2026-11-25T09:00:00.000Z",
                provider: "telesend",
                currency: Some("ETB"),
                amount: Some(250_000),
                code: Some("TS-GIFT-2500"),
                cashier: "baraka",
                ..BASE
            },
            Tx {
                id: "e",
                at: "2026-11-25T10:00:00.000Z",
                provider: "giftpesa",
                amount: Some(25_000),
                code: Some("254720123456"),
                state: "unknown",
                reference: Some("GP-REF-77"),
                ..BASE
            },
            Tx {
                id: "f",
                at: "2026-11-25T11:00:00.000Z",
                provider: "pesapal",
                operation: "checkout",
                currency: Some("USD"),
                amount: Some(1_999),
                reference: Some("b945e4af-80a5-4ec1-8706-e03f8332fb04"),
                ..BASE
            },
            // Training, and a real one the day before (outside the period).
            Tx { id: "g", at: "2026-11-25T12:00:00.000Z", amount: Some(500_000), training: true, ..BASE },
            Tx { id: "h", at: "2026-11-24T12:00:00.000Z", amount: Some(9_900), ..BASE },
        ];
        for t in &rows {
            insert(&ledger, t);
        }
        (dir, ledger)
    }

    fn day_25() -> HistoryFilter {
        HistoryFilter { since: at("2026-11-25T00:00:00Z"), until: at("2026-11-26T00:00:00Z"), ..Default::default() }
    }

    #[test]
    fn a_local_day_is_converted_to_its_utc_bounds() {
        let nairobi = FixedOffset::east_opt(3 * 3600).unwrap();
        let f = HistoryFilter { since: at("2026-11-25"), until: at("2026-11-30"), ..Default::default() };
        assert_eq!(
            f.bounds_in(&nairobi),
            (Some("2026-11-24T21:00:00.000Z".into()), Some("2026-11-30T21:00:00.000Z".into())),
            "the until day is included whole"
        );
        let f = HistoryFilter { since: at("2026-11-25T06:30:00+03:00"), until: at("2026-11-25T18:00:00Z"), ..f };
        assert_eq!(
            f.bounds_in(&nairobi),
            (Some("2026-11-25T03:30:00.000Z".into()), Some("2026-11-25T18:00:00.000Z".into()))
        );
        assert_eq!(f.bounds_in(&Utc), f.bounds_in(&nairobi), "instants do not depend on the time zone");
    }

    #[test]
    fn bad_filters_are_refused_with_plain_words() {
        assert!(matches!("25/11/2026".parse::<TimeBound>(), Err(HistoryFilterError::BadTime(_))));
        assert!(matches!("2026-02-30".parse::<TimeBound>(), Err(HistoryFilterError::BadTime(_))));
        assert!(matches!(parse_state("done"), Err(HistoryFilterError::BadState(_))));
        assert_eq!(parse_state(" Completed "), Ok(State::Completed));
        assert_eq!("CHECKOUT".parse::<Operation>(), Ok(Operation::Checkout));
        let long = HistoryFilter { search: Some("X".repeat(65)), ..Default::default() };
        assert_eq!(long.validate(), Err(HistoryFilterError::SearchTooLong));
        let blank = HistoryFilter { cashier: Some("  ".into()), ..Default::default() };
        assert_eq!(blank.validate(), Err(HistoryFilterError::BadName));
        let backwards = HistoryFilter { since: at("2026-11-26"), until: at("2026-11-24"), ..Default::default() };
        assert_eq!(backwards.validate(), Err(HistoryFilterError::EmptyPeriod));
        assert_eq!(day_25().validate(), Ok(()));
    }

    #[test]
    fn a_filter_deserialises_from_what_the_screen_sends() {
        let f: HistoryFilter = serde_json::from_value(serde_json::json!({
            "since": "2026-11-25", "until": "2026-11-25T18:00:00Z", "provider": "giftpesa",
            "state": "unknown", "operation": "redeem", "search": "0720"
        }))
        .unwrap();
        assert_eq!(f.since, Some(TimeBound::Day(NaiveDate::from_ymd_opt(2026, 11, 25).unwrap())));
        assert_eq!(f.provider, Some(ProviderId::GiftPesa));
        assert_eq!(f.state, Some(State::Unknown));
        assert!(!f.include_training);
        assert!(serde_json::from_value::<HistoryFilter>(serde_json::json!({"state": "done"})).is_err());
    }

    #[test]
    fn the_filter_narrows_by_time_provider_state_cashier_and_operation() {
        let (_dir, ledger) = sample();
        let page = |f: HistoryFilter| ledger.history_page(&f, None, 50).unwrap();
        assert_eq!(ids(&page(day_25())), ["f", "e", "d", "c", "b", "a"], "newest first, no training");
        assert_eq!(ids(&page(HistoryFilter::default())), ["f", "e", "d", "c", "b", "a", "h"]);
        let with_training = HistoryFilter { include_training: true, ..day_25() };
        assert_eq!(ids(&page(with_training)), ["g", "f", "e", "d", "c", "b", "a"]);
        let pv = HistoryFilter { provider: Some(ProviderId::PesaVoucher), ..day_25() };
        assert_eq!(ids(&page(pv.clone())), ["c", "b", "a"]);
        assert_eq!(ids(&page(HistoryFilter { state: Some(State::Completed), ..pv })), ["b", "a"]);
        assert_eq!(ids(&page(HistoryFilter { cashier: Some("BARAKA".into()), ..day_25() })), ["d"]);
        assert_eq!(ids(&page(HistoryFilter { operation: Some(Operation::Checkout), ..day_25() })), ["f"]);
        assert_eq!(ids(&page(HistoryFilter { till_id: Some("TILL-2".into()), ..day_25() })), [] as [&str; 0]);
        let morning = HistoryFilter { until: at("2026-11-25T08:00:00Z"), ..day_25() };
        assert_eq!(ids(&page(morning)), ["b", "a"], "until an instant leaves that instant out");
    }

    #[test]
    fn search_finds_code_fragments_phones_and_references_in_any_case() {
        let (_dir, ledger) = sample();
        let search = |s: &str| {
            let f = HistoryFilter { search: Some(s.into()), include_training: true, ..Default::default() };
            ids(&ledger.history_page(&f, None, 50).unwrap()).into_iter().map(String::from).collect::<Vec<_>>()
        };
        assert_eq!(search("bbbb"), ["b"], "a fragment of the guarded code, any case");
        assert_eq!(search("3333"), ["c"], "the visible tail");
        assert_eq!(search("ts-gift"), ["d"]);
        assert_eq!(search("0720 123 456"), ["e"], "a phone as typed finds the stored 2547…");
        assert_eq!(search("+254720123456"), ["e"]);
        assert_eq!(search("gp-ref"), ["e"], "the provider's reference");
        assert_eq!(search("e03f8332"), ["f"]);
        assert_eq!(search("%"), [] as [&str; 0], "LIKE wildcards are literal");
        assert_eq!(search("_"), [] as [&str; 0]);
        assert_eq!(search("   ").len(), 8, "blank search: no narrowing");
    }

    #[test]
    fn keyset_pages_cover_every_row_once_even_at_the_same_instant() {
        let (_dir, ledger) = crate::ledger::tests::ledger();
        let ids_in: Vec<String> = (0..23).map(|i| format!("t{i:02}")).collect();
        for (i, id) in ids_in.iter().enumerate() {
            // Groups of three share an instant: the id breaks the tie.
            let at = format!("2026-11-25T10:00:{:02}.000Z", i / 3);
            let id: &'static str = Box::leak(id.clone().into_boxed_str());
            let at: &'static str = Box::leak(at.into_boxed_str());
            insert(&ledger, &Tx { id, at, ..BASE });
        }
        let mut seen = Vec::new();
        let mut cursor = None;
        let mut pages = 0;
        loop {
            let page = ledger.history_page(&HistoryFilter::default(), cursor.as_ref(), 5).unwrap();
            assert!(page.rows.len() <= 5);
            seen.extend(page.rows.iter().map(|r| r.id.clone()));
            pages += 1;
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(pages, 5);
        let mut expected = ids_in.clone();
        expected.reverse();
        assert_eq!(seen, expected, "newest first, each row exactly once");
    }

    #[test]
    fn totals_are_per_currency_in_minor_units_and_never_count_training() {
        let (_dir, ledger) = sample();
        let t = ledger.history_totals(&day_25()).unwrap();
        assert_eq!(t.count, 6);
        let kes = t.by_currency.iter().find(|c| c.currency.as_deref() == Some("KES")).unwrap();
        assert_eq!(
            (kes.count, kes.completed_count, kes.completed_minor, kes.failed_count),
            (4, 2, 75_000 + 120_050, 1),
            "the failed one adds nothing; the training 5,000.00 is not here"
        );
        assert_eq!((kes.open_count, kes.open_minor), (1, 25_000), "GiftPesa unknown: money at risk, apart");
        let etb = t.by_currency.iter().find(|c| c.currency.as_deref() == Some("ETB")).unwrap();
        assert_eq!((etb.completed_count, etb.completed_minor), (1, 250_000));
        let usd = t.by_currency.iter().find(|c| c.currency.as_deref() == Some("USD")).unwrap();
        assert_eq!((usd.operation.as_str(), usd.completed_minor), ("checkout", 1_999));
        assert!(t.by_currency.iter().all(|c| !c.training));
        let failed = t.groups.iter().find(|g| g.state == State::Failed).unwrap();
        assert_eq!((failed.provider.as_str(), failed.count, failed.amount_minor), ("pesavoucher", 1, 75_000));

        // Training asked for: its own bucket, never added to the real one.
        let both = ledger.history_totals(&HistoryFilter { include_training: true, ..day_25() }).unwrap();
        assert_eq!(both.count, 7);
        let real_kes = both.by_currency.iter().find(|c| !c.training && c.currency.as_deref() == Some("KES")).unwrap();
        assert_eq!(real_kes, kes);
        let training = both.by_currency.iter().find(|c| c.training).unwrap();
        assert_eq!((training.currency.as_deref(), training.completed_minor), (Some("KES"), 500_000));

        // The page's rows and the totals agree.
        let pv = HistoryFilter { provider: Some(ProviderId::PesaVoucher), state: Some(State::Completed), ..day_25() };
        let rows = ledger.history_page(&pv, None, 50).unwrap().rows;
        let t = ledger.history_totals(&pv).unwrap();
        assert_eq!(t.count, rows.len() as i64);
        assert_eq!(t.by_currency[0].completed_minor, rows.iter().map(|r| r.amount_minor.unwrap()).sum::<i64>());
        assert_eq!(
            ledger.history_totals(&HistoryFilter { search: Some("nothing".into()), ..day_25() }).unwrap().count,
            0
        );
    }

    #[test]
    fn rows_written_by_the_ledger_itself_are_found() {
        let (_dir, ledger) = crate::ledger::tests::ledger();
        let intent = Intent {
            id: "real".into(),
            cashier: "amina".into(),
            provider: "pesavoucher".into(),
            operation: "redeem",
            voucher_code: Some("NLV-DTUMJQ6ILG9WNISE".into()),
            code_masked: Some(crate::voucher_code::mask("NLV-DTUMJQ6ILG9WNISE")),
            amount_minor: Some(75_000),
            currency: Some("KES".into()),
            owner: "x".into(),
            training: false,
        };
        let note = AuditEntry::new("amina", "redeem_attempt", Outcome::Info, "");
        ledger.begin(&intent, &note).unwrap();
        ledger.finish("real", State::Completed, &Finish::default(), &note).unwrap();
        let today = chrono::Local::now().date_naive();
        let f = HistoryFilter {
            since: Some(TimeBound::Day(today.pred_opt().unwrap())),
            until: Some(TimeBound::Day(today.succ_opt().unwrap())),
            search: Some("dtumjq".into()),
            ..Default::default()
        };
        assert_eq!(ids(&ledger.history_page(&f, None, 10).unwrap()), ["real"]);
        assert_eq!(ledger.history_totals(&f).unwrap().by_currency[0].completed_minor, 75_000);
    }

    #[test]
    fn a_transaction_comes_with_its_whole_event_trail_in_order() {
        let (_dir, ledger) = crate::ledger::tests::ledger();
        let intent = Intent {
            id: "tx-1".into(),
            cashier: "amina".into(),
            provider: "pesavoucher".into(),
            operation: "redeem",
            voucher_code: Some("NLV-DTUMJQ6ILG9WNISE".into()),
            code_masked: Some(crate::voucher_code::mask("NLV-DTUMJQ6ILG9WNISE")),
            amount_minor: Some(75_000),
            currency: Some("KES".into()),
            owner: "x".into(),
            training: false,
        };
        let note = |event: &'static str| AuditEntry {
            transaction_id: Some("tx-1".into()),
            ..AuditEntry::new("amina", event, Outcome::Info, "")
        };
        ledger.record(&AuditEntry::new("amina", "sign_in", Outcome::Success, "")).unwrap();
        ledger.begin(&intent, &note("redeem_attempt")).unwrap();
        ledger.record(&AuditEntry::new("baraka", "validate", Outcome::Info, "another voucher")).unwrap();
        ledger.finish("tx-1", State::Completed, &Finish::default(), &note("redeem_completed")).unwrap();
        ledger.record(&note("receipt_reprinted")).unwrap();

        let trail = ledger.transaction_detail("tx-1").unwrap().unwrap();
        assert_eq!(trail.transaction.state, State::Completed);
        let events: Vec<_> = trail.events.iter().map(|e| e.event.as_str()).collect();
        assert_eq!(events, ["redeem_attempt", "redeem_completed", "receipt_reprinted"], "its own rows only, by seq");
        assert!(trail.events.windows(2).all(|w| w[0].seq < w[1].seq));
        let json = serde_json::to_string(&trail).unwrap();
        assert!(!json.contains("DTUMJQ"), "the full code never leaves the ledger: {json}");
        assert_eq!(ledger.transaction_detail("nope").unwrap(), None);
    }

    #[test]
    fn the_audit_summary_masks_the_search_and_names_the_bounds() {
        let f = HistoryFilter {
            search: Some("NLV-DTUMJQ6ILG9WNISE".into()),
            provider: Some(ProviderId::PesaVoucher),
            ..day_25()
        };
        let s = f.summary();
        assert!(!s.contains("DTUMJQ"), "{s}");
        assert!(s.contains("WNISE") || s.contains("NISE"), "{s}");
        assert!(s.contains("since 2026-11-25T00:00:00.000Z") && s.contains("provider pesavoucher"), "{s}");
        assert!(s.ends_with("real business only"), "{s}");
    }

    /// The plan SQLite chooses for a statement (it does not depend on the values).
    fn plan(ledger: &Ledger, sql: &str, w: &Where, extra: &[Value]) -> String {
        let conn = ledger.conn();
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let values = w.values.iter().chain(extra);
        let rows = stmt.query_map(rusqlite::params_from_iter(values), |r| r.get::<_, String>(3)).unwrap();
        rows.collect::<Result<Vec<_>, _>>().unwrap().join("; ")
    }

    /// A month of a till at UTC+3: partial UTC days at both ends, whole ones between.
    fn month() -> HistoryFilter {
        HistoryFilter { since: at("2026-10-31T21:00:00Z"), until: at("2026-11-30T21:00:00Z"), ..Default::default() }
    }

    /// The plan reads with exactly this index (not one whose name starts so).
    fn uses(plan: &str, index: &str) -> bool {
        plan.match_indices(&format!("USING {index}"))
            .any(|(i, m)| !plan[i + m.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_'))
    }

    #[test]
    fn every_history_query_is_planned_on_an_index() {
        let (_dir, ledger) = crate::ledger::tests::ledger();
        let cursor = HistoryCursor { created_at: "2026-11-25T10:00:00.000Z".into(), id: "x".into() };
        let shift = HistoryFilter { since: at("2026-11-25T05:00:00Z"), until: at("2026-11-25T13:00:00Z"), ..month() };
        // (what, filter, the page's index, the index the totals read rows with)
        let cases: [(&str, HistoryFilter, &str, &str); 8] = [
            ("a month", month(), "INDEX transactions_history", "COVERING INDEX transactions_history"),
            ("a shift", shift, "INDEX transactions_history", "COVERING INDEX transactions_history"),
            (
                "a provider",
                HistoryFilter { provider: Some(ProviderId::GiftPesa), ..month() },
                "INDEX transactions_history_provider",
                "INDEX transactions_history_provider",
            ),
            (
                "a state",
                HistoryFilter { state: Some(State::Unknown), ..month() },
                "INDEX transactions_history_state",
                "INDEX transactions_history_state",
            ),
            (
                "a cashier",
                HistoryFilter { cashier: Some("amina".into()), ..month() },
                "INDEX transactions_history_cashier",
                "INDEX transactions_history_cashier",
            ),
            (
                "a search",
                HistoryFilter { search: Some("1234".into()), ..month() },
                "INDEX transactions_history",
                "INDEX transactions_history",
            ),
            (
                "training included",
                HistoryFilter { include_training: true, ..month() },
                "INDEX transactions_history",
                "COVERING INDEX transactions_history",
            ),
            ("all time", HistoryFilter::default(), "INDEX transactions_history", "COVERING INDEX transactions_history"),
        ];
        for (what, filter, page_index, rows_index) in cases {
            let (from, to) = filter.range_in(&Utc);
            for after in [None, Some(&cursor)] {
                let w = Where::new(&filter, from, to, after);
                let p = plan(&ledger, &page_sql(&w), &w, &[Value::from(51)]);
                assert!(uses(&p, page_index), "page of {what}: {p}");
                assert!(!p.contains("TEMP B-TREE FOR ORDER BY"), "page of {what} sorts the whole range: {p}");
            }
            for (sql, w) in totals_plan(&filter, from, to, None) {
                let p = plan(&ledger, &sql, &w, &[]);
                let expected = if sql.contains("day_totals") {
                    if from.is_none() && to.is_none() { "transaction_day_totals" } else { "PRIMARY KEY" }
                } else {
                    rows_index
                };
                assert!(uses(&p, expected) || p.contains(expected), "totals of {what}: {p}");
                assert!(!p.contains("SCAN transactions"), "totals of {what} read the whole table: {p}");
            }
        }
    }

    #[test]
    fn a_search_the_index_narrowed_reads_each_named_transaction_by_its_key() {
        let (_dir, ledger) = crate::ledger::tests::ledger();
        let filter = HistoryFilter { search: Some("4242".into()), cashier: Some("amina".into()), ..month() };
        let (from, to) = filter.range_in(&Utc);
        let w = Where::new(&filter, from, to, None).over(Some("[\"a\"]".into()));
        for (what, sql, extra) in [("page", page_sql(&w), vec![Value::from(51)]), ("totals", totals_sql(&w), vec![])] {
            let p = plan(&ledger, &sql, &w, &extra);
            assert!(p.contains("SCAN json_each") && uses(&p, "INDEX sqlite_autoindex_transactions_1"), "{what}: {p}");
            assert!(!p.contains("SCAN transactions"), "{what}: {p}");
        }
        let conn = ledger.conn();
        let lookup = "EXPLAIN QUERY PLAN SELECT d.id FROM transaction_search JOIN transaction_search_docs d
            ON d.docid = transaction_search.rowid WHERE transaction_search MATCH ?1 LIMIT ?2";
        let p: Vec<String> = conn
            .prepare(lookup)
            .unwrap()
            .query_map(rusqlite::params!["\"424\" AND \"242\"", 5001], |r| r.get(3))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(p[0].contains("VIRTUAL TABLE INDEX") && p[1].contains("INTEGER PRIMARY KEY"), "{p:?}");
    }

    #[test]
    fn an_upgraded_till_gets_daily_totals_of_the_transactions_it_already_had() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(crate::ledger::LEDGER_FILE);
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        crate::ledger::migrate::run_up_to(&mut conn, 3).unwrap();
        conn.execute_batch(
            "INSERT INTO transactions (id, created_at, updated_at, till_id, cashier, provider, operation,
                amount_minor, currency, state, owner, training)
             VALUES ('a', '2026-11-01T10:00:00.000Z', '', 'TILL-1', 'amina', 'pesavoucher', 'redeem', 100, 'KES',
                'completed', 'x', 0),
                ('b', '2026-11-02T10:00:00.000Z', '', 'TILL-1', 'amina', 'pesavoucher', 'redeem', 250, 'KES',
                'completed', 'x', 0);",
        )
        .unwrap();
        drop(conn);
        let ledger = Ledger::open(&path, "TILL-1").unwrap();
        let year = HistoryFilter {
            since: at("2026-01-01T00:00:00Z"),
            until: at("2027-01-01T00:00:00Z"),
            ..Default::default()
        };
        let (from, to) = year.range_in(&Utc);
        assert_eq!(totals_plan(&year, from, to, None).len(), 1, "whole days: the daily totals alone");
        let t = ledger.history_totals(&year).unwrap();
        assert_eq!((t.count, t.by_currency[0].completed_minor), (2, 350));
    }

    #[test]
    fn totals_of_whole_days_and_their_edges_match_the_transactions() {
        let (_dir, ledger) = crate::ledger::tests::ledger();
        // Ten days of transactions every 97 minutes, a few changing state
        // and amount later, as `finish` does.
        let start = "2026-11-20T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let states = ["completed", "completed", "failed", "unknown", "pending"];
        let providers = [("pesavoucher", Some("KES")), ("telesend", Some("ETB")), ("giftpesa", None)];
        for i in 0..150i64 {
            let (provider, currency) = providers[i as usize % 3];
            let t = stored_time(start + chrono::Duration::minutes(97 * i));
            ledger
                .conn()
                .execute(
                    "INSERT INTO transactions (id, created_at, updated_at, till_id, cashier, provider, operation,
                        amount_minor, currency, state, owner, training)
                     VALUES (?1, ?2, ?2, 'TILL-1', 'amina', ?3, 'redeem', ?4, ?5, ?6, 'x', ?7)",
                    rusqlite::params![
                        format!("t{i:03}"),
                        t,
                        provider,
                        (i % 7 != 0).then_some(1_000 + i * 37),
                        currency,
                        states[i as usize % 5],
                        i % 11 == 0
                    ],
                )
                .unwrap();
        }
        ledger
            .conn()
            .execute_batch(
                "UPDATE transactions SET state = 'completed', amount_minor = 999 WHERE state = 'pending';
                 UPDATE transactions SET state = 'failed', currency = COALESCE(currency, 'KES') WHERE id LIKE 't0_3';",
            )
            .unwrap();
        let direct = |f: &HistoryFilter| {
            let (from, to) = f.range_in(&Utc);
            let w = Where::new(f, from, to, None);
            let mut g = Groups::new();
            add_groups(&ledger.conn(), &totals_sql(&w), &w, &mut g).unwrap();
            g.retain(|_, v| v.0 != 0);
            g
        };
        let periods = [
            (None, None),
            (at("2026-11-21T21:00:00Z"), at("2026-11-26T21:00:00Z")),
            (at("2026-11-22T00:00:00Z"), at("2026-11-24T00:00:00Z")),
            (at("2026-11-22T13:14:15.5Z"), None),
            (None, at("2026-11-25T03:00:00Z")),
            (at("2026-11-23T01:00:00Z"), at("2026-11-23T23:00:00Z")),
            (at("2026-11-21"), at("2026-11-28")),
        ];
        let mut via_days = 0;
        for (since, until) in periods {
            for filter in [
                HistoryFilter { since, until, ..Default::default() },
                HistoryFilter { since, until, include_training: true, ..Default::default() },
                HistoryFilter { since, until, provider: Some(ProviderId::Telesend), ..Default::default() },
                HistoryFilter { since, until, state: Some(State::Completed), ..Default::default() },
            ] {
                let t = ledger.history_totals(&filter).unwrap();
                let got: Groups = t
                    .groups
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
                    .collect();
                assert_eq!(got, direct(&filter), "{filter:?}");
                let (from, to) = filter.range_in(&chrono::Local);
                via_days +=
                    totals_plan(&filter, from, to, None).iter().filter(|(sql, _)| sql.contains("day_totals")).count();
            }
        }
        assert!(via_days >= 16, "the daily totals were used: {via_days}");
    }
}
