//! The chart beside the history: a filter's totals per local day of the
//! till, provider, operation and currency, in integer minor units.
//!
//! Days are the till's calendar days, not UTC ones, and the period's first
//! and last days may be partial (a shift, "until 17:00"): each bucket is
//! exactly `[start, end)` of its day within the period, so the buckets add up
//! to what [`Ledger::history_totals`] says for the same filter.
//!
//! The daily totals the triggers keep are per UTC day. A local day is read as
//! the whole UTC days nearest to it plus or minus what lies between each of
//! its bounds and the UTC midnight nearest that bound (at most twelve hours,
//! three in East Africa): the whole UTC hours of that stretch from the
//! hourly totals (one statement for every edge of the chart), and only what
//! is left of an hour (a bound inside one: a shift, a zone half an hour off)
//! from the transactions. One cashier's chart reads that cashier's daily
//! totals, and the transactions at the edges (hours are not kept per
//! cashier). A filter by till or search counts each day's transactions
//! instead, one index range per day.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::Serialize;

use super::{Groups, HistoryFilter, Where, add_groups, day_before_or_at, local_midnight, totals_sql};
use crate::ledger::{Ledger, LedgerError, State};

/// The most days one chart shows; a longer period shows its last days.
pub const MAX_CHART_DAYS: u32 = 1_100;

/// One bar segment: a day's business of one provider and operation in one
/// currency. Days without business have no entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DailyTotal {
    /// The till's local calendar day.
    pub day: NaiveDate,
    pub training: bool,
    pub currency: Option<String>,
    pub provider: String,
    pub operation: String,
    /// Every transaction of the filter that day, whatever its state.
    pub count: i64,
    pub completed_count: i64,
    /// What completed, in minor units of `currency`.
    pub completed_minor: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DailyTotals {
    /// The days the chart spans, inclusive (`None` when the ledger is empty
    /// and the filter names no period).
    pub first_day: Option<NaiveDate>,
    pub last_day: Option<NaiveDate>,
    /// The period was longer than [`MAX_CHART_DAYS`]: only its last days are here.
    pub clipped: bool,
    /// By day, then training flag, currency, provider and operation.
    pub days: Vec<DailyTotal>,
}

/// (day index, training, currency or "", provider, operation, state) → (count, sum).
type DayGroups = BTreeMap<(usize, bool, String, String, String, String), (i64, i64)>;

/// The local days of `[from, to)`: their start instants (the first is
/// `from`), their dates, and `to` as the last bound.
struct Buckets {
    bounds: Vec<DateTime<Utc>>,
    days: Vec<NaiveDate>,
}

impl Buckets {
    fn new<Tz: TimeZone>(tz: &Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> (Buckets, bool) {
        let first_day = from.with_timezone(tz).date_naive();
        // The day holding the last instant of the period.
        let last_day = (to - chrono::Duration::milliseconds(1)).with_timezone(tz).date_naive();
        let clipped = (last_day - first_day).num_days() >= i64::from(MAX_CHART_DAYS);
        let (from, first_day) = if clipped {
            let first_day = last_day - chrono::Duration::days(i64::from(MAX_CHART_DAYS) - 1);
            (local_midnight(first_day, tz), first_day)
        } else {
            (from, first_day)
        };
        let mut bounds = vec![from];
        let mut days = vec![first_day];
        let mut day = first_day;
        while let Some(next) = day.succ_opt() {
            let start = local_midnight(next, tz);
            if start >= to {
                break;
            }
            if start > *bounds.last().expect("starts with from") {
                bounds.push(start);
                days.push(next);
            }
            day = next;
        }
        bounds.push(to);
        (Buckets { bounds, days }, clipped)
    }
}

/// The UTC midnight nearest `t` (the earlier one when halfway).
fn nearest_midnight(t: DateTime<Utc>) -> DateTime<Utc> {
    let floor = day_before_or_at(t);
    let ceil = if floor == t { t } else { floor + chrono::Duration::days(1) };
    if t - floor <= ceil - t { floor } else { ceil }
}

/// The filter's groups in `[from, to)`, counted from the transactions.
fn rows_between(
    conn: &rusqlite::Connection,
    filter: &HistoryFilter,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Groups, LedgerError> {
    let mut groups = Groups::new();
    if from < to {
        let w = Where::new(filter, Some(from), Some(to), None);
        add_groups(conn, &totals_sql(&w), &w, &mut groups)?;
    }
    Ok(groups)
}

/// Adds an edge of bound `i` (of `n` buckets): `sign` times to the bucket
/// starting there, minus `sign` times to the one ending there.
fn add_edge(into: &mut DayGroups, edge: &Groups, i: usize, n: usize, sign: i64) -> Result<(), LedgerError> {
    if i < n {
        add_to_day(into, edge, i, sign)?;
    }
    if i > 0 {
        add_to_day(into, edge, i - 1, -sign)?;
    }
    Ok(())
}

/// The whole UTC hour at or before `t`.
fn hour_before_or_at(t: DateTime<Utc>) -> DateTime<Utc> {
    t - chrono::Duration::nanoseconds(
        t.timestamp().rem_euclid(3_600) * 1_000_000_000 + i64::from(t.timestamp_subsec_nanos()),
    )
}

/// The whole UTC hour at or after `t`.
fn hour_at_or_after(t: DateTime<Utc>) -> DateTime<Utc> {
    let floor = hour_before_or_at(t);
    if floor == t { t } else { floor + chrono::Duration::hours(1) }
}

/// Adds `sign` times `groups` to bucket `day`.
fn add_to_day(into: &mut DayGroups, groups: &Groups, day: usize, sign: i64) -> Result<(), LedgerError> {
    for ((training, currency, provider, operation, state), (count, sum)) in groups {
        let key = (day, *training, currency.clone(), provider.clone(), operation.clone(), state.clone());
        add(into, key, sign * count, sign * sum)?;
    }
    Ok(())
}

fn add(
    into: &mut DayGroups,
    key: (usize, bool, String, String, String, String),
    count: i64,
    sum: i64,
) -> Result<(), LedgerError> {
    let slot = into.entry(key).or_default();
    let overflow = || LedgerError::Sqlite(rusqlite::Error::IntegralValueOutOfRange(0, sum));
    *slot = (slot.0.checked_add(count).ok_or_else(overflow)?, slot.1.checked_add(sum).ok_or_else(overflow)?);
    Ok(())
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

impl Ledger {
    /// The filter's totals per local day of the till (see the module).
    pub fn history_daily(&self, filter: &HistoryFilter) -> Result<DailyTotals, LedgerError> {
        self.history_daily_in(&chrono::Local, filter, Utc::now())
    }

    /// As [`Ledger::history_daily`], with days in `tz`. A period without a
    /// start begins on the day of the first transaction; one without an end
    /// ends with the day of `now` (or of the last transaction, if later).
    pub fn history_daily_in<Tz: TimeZone>(
        &self,
        tz: &Tz,
        filter: &HistoryFilter,
        now: DateTime<Utc>,
    ) -> Result<DailyTotals, LedgerError> {
        let (from, to) = filter.range_in(tz);
        let conn = self.conn();
        let (from, to) = if from.is_none() || to.is_none() {
            // Both ends of the created_at index: no scan.
            let (first, last): (Option<String>, Option<String>) = conn.query_row(
                "SELECT (SELECT MIN(created_at) FROM transactions), (SELECT MAX(created_at) FROM transactions)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let first = first.as_deref().and_then(parse_time);
            let last = last.as_deref().and_then(parse_time);
            let from = from.or(first.map(|t| local_midnight(t.with_timezone(tz).date_naive(), tz)));
            let to = to.or_else(|| {
                let latest = last.map_or(now, |l| l.max(now));
                let day = latest.with_timezone(tz).date_naive();
                Some(local_midnight(day.succ_opt().unwrap_or(NaiveDate::MAX), tz))
            });
            (from, to)
        } else {
            (from, to)
        };
        let (Some(from), Some(to)) = (from, to) else {
            return Ok(DailyTotals::default());
        };
        if from >= to {
            return Ok(DailyTotals::default());
        }
        let (buckets, clipped) = Buckets::new(tz, from, to);
        let n = buckets.days.len();
        let mut groups = DayGroups::new();
        if filter.needs_rows() {
            for i in 0..n {
                add_to_day(&mut groups, &rows_between(&conn, filter, buckets.bounds[i], buckets.bounds[i + 1])?, i, 1)?;
            }
        } else {
            // bucket i = whole UTC days [m_i, m_i+1) + rows [b_i, m_i) - rows [b_i+1, m_i+1),
            // where m is the UTC midnight nearest each bound b (signed when m < b).
            let anchors: Vec<DateTime<Utc>> = buckets.bounds.iter().map(|b| nearest_midnight(*b)).collect();
            let w = Where::days(filter, Some(anchors[0]), Some(anchors[n]));
            let sql = format!(
                "SELECT day, training, currency, provider, operation, state, SUM(n), SUM(total)
                 FROM {}{}
                 GROUP BY day, training, currency, provider, operation, state",
                w.source, w.sql
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(rusqlite::params_from_iter(w.values.iter()))?;
            while let Some(r) = rows.next()? {
                let day: String = r.get(0)?;
                let Ok(day) = NaiveDate::parse_from_str(&day, "%Y-%m-%d") else { continue };
                let start = day.and_time(chrono::NaiveTime::MIN).and_utc();
                // The last bucket whose anchor is at or before this UTC day.
                let i = anchors[..n].partition_point(|m| *m <= start).saturating_sub(1);
                let key = (i, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?);
                add(&mut groups, key, r.get(6)?, r.get(7)?)?;
            }
            drop(rows);
            drop(stmt);
            // Whole UTC hours of each edge from the hourly totals (not kept
            // per cashier: a cashier's edges are read from the transactions).
            let mut hours: HashMap<String, Vec<(usize, i64)>> = HashMap::new();
            for (i, (b, m)) in buckets.bounds.iter().zip(&anchors).enumerate() {
                if m == b {
                    continue;
                }
                let (lo, hi, sign) = if m > b { (*b, *m, 1) } else { (*m, *b, -1) };
                let (first_hour, end_hour) = (hour_at_or_after(lo), hour_before_or_at(hi));
                let rows_only = filter.cashier.is_some() || first_hour >= end_hour;
                let mut parts = vec![];
                if rows_only {
                    parts.push((lo, hi));
                } else {
                    parts.extend([(lo, first_hour), (end_hour, hi)]);
                    let mut h = first_hour;
                    while h < end_hour {
                        hours.entry(h.format("%Y-%m-%dT%H").to_string()).or_default().push((i, sign));
                        h += chrono::Duration::hours(1);
                    }
                }
                for (lo, hi) in parts {
                    let edge = rows_between(&conn, filter, lo, hi)?;
                    add_edge(&mut groups, &edge, i, n, sign)?;
                }
            }
            if !hours.is_empty() {
                let mut w = Where::kept_by_day(filter);
                let list: Vec<&String> = hours.keys().collect();
                w.push(
                    "hour IN (SELECT value FROM json_each(?))",
                    [serde_json::to_string(&list).expect("JSON of strings").into()],
                );
                let sql = format!(
                    "SELECT hour, training, currency, provider, operation, state, n, total FROM transaction_hour_totals{}",
                    w.sql
                );
                let mut stmt = conn.prepare_cached(&sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(w.values.iter()))?;
                while let Some(r) = rows.next()? {
                    let hour: String = r.get(0)?;
                    let group: Groups =
                        [((r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?), (r.get(6)?, r.get(7)?))].into();
                    for (i, sign) in hours.get(&hour).into_iter().flatten() {
                        add_edge(&mut groups, &group, *i, n, *sign)?;
                    }
                }
            }
        }
        // Fold the states into one entry per day, training flag, currency, provider and operation.
        let mut out: Vec<DailyTotal> = Vec::new();
        for ((i, training, currency, provider, operation, state), (count, sum)) in groups {
            if count == 0 {
                continue;
            }
            let currency = (!currency.is_empty()).then_some(currency);
            let same = |t: &DailyTotal| {
                t.day == buckets.days[i]
                    && t.training == training
                    && t.currency == currency
                    && t.provider == provider
                    && t.operation == operation
            };
            if !out.last().is_some_and(same) {
                out.push(DailyTotal {
                    day: buckets.days[i],
                    training,
                    currency: currency.clone(),
                    provider: provider.clone(),
                    operation: operation.clone(),
                    count: 0,
                    completed_count: 0,
                    completed_minor: 0,
                });
            }
            let t = out.last_mut().expect("just pushed");
            t.count += count;
            if state == State::Completed.as_str() {
                t.completed_count += count;
                t.completed_minor += sum;
            }
        }
        Ok(DailyTotals {
            first_day: buckets.days.first().copied(),
            last_day: buckets.days.last().copied(),
            clipped,
            days: out,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::history::TimeBound;
    use crate::providers::ProviderId;
    use chrono::FixedOffset;

    fn nairobi() -> FixedOffset {
        FixedOffset::east_opt(3 * 3600).unwrap()
    }

    fn at(s: &str) -> Option<TimeBound> {
        Some(s.parse().unwrap())
    }

    /// Twelve days of business every 53 minutes from three providers, in
    /// two currencies and none, some training, some failed or unknown, some
    /// changed later as `finish` does.
    fn busy() -> (tempfile::TempDir, Ledger) {
        let (dir, ledger) = crate::ledger::tests::ledger();
        let start = "2026-11-19T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let states = ["completed", "completed", "failed", "unknown", "completed", "pending"];
        let providers = [("pesavoucher", Some("KES")), ("telesend", Some("ETB")), ("giftpesa", None)];
        let cashiers = ["Amina", "baraka"];
        for i in 0..330i64 {
            let (provider, currency) = providers[i as usize % 3];
            let t = super::super::stored_time(start + chrono::Duration::minutes(53 * i));
            ledger
                .conn()
                .execute(
                    "INSERT INTO transactions (id, created_at, updated_at, till_id, cashier, provider, operation,
                        amount_minor, currency, state, owner, training, code_masked)
                     VALUES (?1, ?2, ?2, 'TILL-1', ?8, ?3, 'redeem', ?4, ?5, ?6, 'x', ?7, ?9)",
                    rusqlite::params![
                        format!("t{i:03}"),
                        t,
                        provider,
                        (i % 7 != 0).then_some(1_000 + i * 37),
                        currency,
                        states[i as usize % 6],
                        i % 11 == 0,
                        cashiers[i as usize % 2],
                        format!("•••-{i:04}"),
                    ],
                )
                .unwrap();
        }
        ledger.conn().execute_batch("UPDATE transactions SET state = 'completed' WHERE state = 'pending';").unwrap();
        (dir, ledger)
    }

    /// (day, training, currency, provider) → (count, completed count, completed sum).
    type ByDay = BTreeMap<(NaiveDate, bool, String, String), (i64, i64, i64)>;

    /// The same figures counted straight from the transactions, per local day.
    fn direct(ledger: &Ledger, filter: &HistoryFilter, buckets: &Buckets) -> ByDay {
        let mut out = BTreeMap::new();
        for (i, day) in buckets.days.iter().enumerate() {
            let w = Where::new(filter, Some(buckets.bounds[i]), Some(buckets.bounds[i + 1]), None);
            let mut g = Groups::new();
            add_groups(&ledger.conn(), &totals_sql(&w), &w, &mut g).unwrap();
            for ((training, currency, provider, _op, state), (count, sum)) in g {
                let e: &mut (i64, i64, i64) = out.entry((*day, training, currency, provider)).or_default();
                e.0 += count;
                if state == "completed" {
                    e.1 += count;
                    e.2 += sum;
                }
            }
        }
        out
    }

    fn as_map(d: &DailyTotals) -> ByDay {
        d.days
            .iter()
            .map(|t| {
                let key = (t.day, t.training, t.currency.clone().unwrap_or_default(), t.provider.clone());
                (key, (t.count, t.completed_count, t.completed_minor))
            })
            .collect()
    }

    #[test]
    fn local_days_match_the_transactions_for_whole_and_partial_days() {
        let (_dir, ledger) = busy();
        let tz = nairobi();
        let now = "2026-12-01T12:00:00Z".parse().unwrap();
        let periods = [
            // Whole local days (UTC+3: each starts at 21:00 UTC the day before).
            (at("2026-11-20"), at("2026-11-27")),
            // A shift inside one day, and partial days at both ends.
            (at("2026-11-22T05:00:00Z"), at("2026-11-22T13:00:00Z")),
            (at("2026-11-21T13:14:15.5Z"), at("2026-11-25T02:30:00Z")),
            // Open ends: from the first transaction, up to now.
            (None, at("2026-11-23")),
            (at("2026-11-28"), None),
            (None, None),
        ];
        let mut via_day_totals = 0;
        for (since, until) in periods {
            for filter in [
                HistoryFilter { since, until, ..Default::default() },
                HistoryFilter { since, until, include_training: true, ..Default::default() },
                HistoryFilter { since, until, provider: Some(ProviderId::Telesend), ..Default::default() },
                HistoryFilter { since, until, state: Some(State::Completed), ..Default::default() },
                HistoryFilter { since, until, cashier: Some("AMINA".into()), ..Default::default() },
                HistoryFilter { since, until, search: Some("•••-01".into()), ..Default::default() },
            ] {
                let daily = ledger.history_daily_in(&tz, &filter, now).unwrap();
                let (from, to) = filter.range_in(&tz);
                let from = from.unwrap_or_else(|| "2026-11-18T21:00:00Z".parse().unwrap());
                let to = to.unwrap_or_else(|| "2026-12-01T21:00:00Z".parse().unwrap());
                let (buckets, clipped) = Buckets::new(&tz, from, to);
                assert!(!clipped);
                assert_eq!(daily.first_day, buckets.days.first().copied(), "{filter:?}");
                assert_eq!(daily.last_day, buckets.days.last().copied(), "{filter:?}");
                let expected = direct(&ledger, &filter, &buckets);
                let expected: BTreeMap<_, _> = expected.into_iter().filter(|(_, v)| v.0 != 0).collect();
                assert_eq!(as_map(&daily), expected, "{filter:?}");
                via_day_totals += usize::from(!filter.needs_rows());
            }
        }
        assert!(via_day_totals >= 20);
    }

    #[test]
    fn the_days_add_up_to_the_totals_of_the_filter() {
        let (_dir, ledger) = busy();
        let filter = HistoryFilter {
            since: at("2026-11-20T08:00:00Z"),
            until: at("2026-11-29T16:00:00Z"),
            ..Default::default()
        };
        let daily = ledger.history_daily(&filter).unwrap();
        let totals = ledger.history_totals(&filter).unwrap();
        assert_eq!(daily.days.iter().map(|d| d.count).sum::<i64>(), totals.count);
        for c in &totals.by_currency {
            let sum: i64 = daily.days.iter().filter(|d| d.currency == c.currency).map(|d| d.completed_minor).sum();
            assert_eq!(sum, c.completed_minor, "{:?}", c.currency);
        }
        assert!(daily.days.iter().all(|d| !d.training), "training is left out unless asked for");
        assert!(daily.days.windows(2).all(|w| w[0].day <= w[1].day), "by day");
    }

    #[test]
    fn a_day_of_business_is_one_bar_per_provider_and_currency() {
        let (_dir, ledger) = crate::ledger::tests::ledger();
        let rows = [
            ("a", "2026-11-24T21:30:00.000Z", "pesavoucher", Some(75_000), Some("KES"), "completed"),
            ("b", "2026-11-25T10:00:00.000Z", "pesavoucher", Some(120_050), Some("KES"), "completed"),
            ("c", "2026-11-25T11:00:00.000Z", "pesavoucher", Some(5_000), Some("KES"), "failed"),
            ("d", "2026-11-25T20:59:59.999Z", "telesend", Some(250_000), Some("ETB"), "completed"),
            // 21:00 UTC is midnight in Nairobi: the next day.
            ("e", "2026-11-25T21:00:00.000Z", "telesend", Some(1_000), Some("ETB"), "completed"),
        ];
        for (id, at, provider, amount, currency, state) in rows {
            ledger
                .conn()
                .execute(
                    "INSERT INTO transactions (id, created_at, updated_at, till_id, cashier, provider, operation,
                        amount_minor, currency, state, owner, training)
                     VALUES (?1, ?2, ?2, 'TILL-1', 'Amina', ?3, 'redeem', ?4, ?5, ?6, 'x', 0)",
                    rusqlite::params![id, at, provider, amount, currency, state],
                )
                .unwrap();
        }
        let f = HistoryFilter { since: at("2026-11-25"), until: at("2026-11-26"), ..Default::default() };
        let d = ledger.history_daily_in(&nairobi(), &f, Utc::now()).unwrap();
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!((d.first_day, d.last_day), (Some(day("2026-11-25")), Some(day("2026-11-26"))));
        let got: Vec<_> = d
            .days
            .iter()
            .map(|t| (t.day.to_string(), t.provider.as_str(), t.count, t.completed_count, t.completed_minor))
            .collect();
        assert_eq!(
            got,
            [
                ("2026-11-25".into(), "telesend", 1, 1, 250_000),
                ("2026-11-25".into(), "pesavoucher", 3, 2, 75_000 + 120_050),
                ("2026-11-26".into(), "telesend", 1, 1, 1_000),
            ]
        );
        assert_eq!(serde_json::to_value(&d.days[0]).unwrap()["day"], "2026-11-25", "ETB before KES");
    }

    #[test]
    fn a_long_period_shows_its_last_days_and_an_empty_ledger_nothing() {
        let (_dir, ledger) = crate::ledger::tests::ledger();
        let all = ledger.history_daily(&HistoryFilter::default()).unwrap();
        assert_eq!(all, DailyTotals::default());
        let f = HistoryFilter { since: at("2020-01-01"), until: at("2026-11-25"), ..Default::default() };
        let d = ledger.history_daily_in(&nairobi(), &f, Utc::now()).unwrap();
        assert!(d.clipped);
        assert_eq!(d.last_day, NaiveDate::from_ymd_opt(2026, 11, 25));
        let span = (d.last_day.unwrap() - d.first_day.unwrap()).num_days() + 1;
        assert_eq!(span, i64::from(MAX_CHART_DAYS));
    }
}
