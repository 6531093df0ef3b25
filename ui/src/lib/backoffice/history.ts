// The History and Audit tabs' logic, kept out of the components so it is
// tested: the filter form, money of totals, the chart's series, paging and
// the verification's verdict.
import type {
  AuditVerification,
  CurrencyTotal,
  DailyTotals,
  HistoryCursor,
  HistoryFilter,
  HistoryTotals,
  Progress,
  TransactionState,
} from '../../types';

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** A local calendar day as the backend reads one: YYYY-MM-DD. */
export function localDay(d: Date): string {
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
}

/** RFC 3339 UTC → local "2026-11-25 20:15:03". */
export function localDateTime(rfc3339: string): string {
  const d = new Date(rfc3339);
  if (Number.isNaN(d.getTime())) return rfc3339;
  const time = `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  return `${localDay(d)} ${time}`;
}

/** The filter bar as typed. */
export interface FilterForm {
  since: string;
  until: string;
  provider: string;
  state: '' | TransactionState;
  cashier: string;
  till: string;
  search: string;
  includeTraining: boolean;
}

/** Today's business: the screen opens on it. */
export function defaultForm(now: Date = new Date()): FilterForm {
  const today = localDay(now);
  return {
    since: today,
    until: today,
    provider: '',
    state: '',
    cashier: '',
    till: '',
    search: '',
    includeTraining: false,
  };
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

function isDay(s: string): boolean {
  if (!DAY.test(s)) return false;
  const [y, m, d] = s.split('-').map(Number) as [number, number, number];
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

/** Longest search fragment the backend accepts. */
export const MAX_SEARCH = 64;

/**
 * The form as the backend's filter, or why it cannot be one. Blank fields do
 * not narrow; the backend checks everything again.
 */
export function toFilter(form: FilterForm): { filter: HistoryFilter } | { error: string } {
  const since = form.since.trim();
  const until = form.until.trim();
  for (const [label, value] of [
    ['From', since],
    ['To', until],
  ] as const) {
    if (value !== '' && !isDay(value)) return { error: `${label} is not a date: use YYYY-MM-DD.` };
  }
  if (since !== '' && until !== '' && since > until) {
    return { error: 'From is after To: the period is empty.' };
  }
  const search = form.search.trim();
  if ([...search].length > MAX_SEARCH) {
    return { error: `The search text has at most ${MAX_SEARCH} characters.` };
  }
  const text = (s: string): string | null => (s.trim() === '' ? null : s.trim());
  return {
    filter: {
      since: since || null,
      until: until || null,
      provider: form.provider || null,
      state: form.state || null,
      cashier: text(form.cashier),
      till_id: text(form.till),
      search: text(search),
      include_training: form.includeTraining,
    },
  };
}

/** Decimal places of each currency's minor unit (ISO 4217), as money.rs has them. */
const EXPONENT: Record<string, number> = { KES: 2, ETB: 2, UGX: 0, TZS: 2, RWF: 0, USD: 2 };

export function exponent(currency: string): number {
  return EXPONENT[currency] ?? 2;
}

/** Minor units as the backend writes money: "KES 1,200.50". Integer arithmetic, no float rounding. */
export function moneyText(minor: number, currency: string | null): string {
  if (currency === null) return '—';
  const exp = exponent(currency);
  const negative = minor < 0;
  const digits = String(Math.abs(Math.trunc(minor))).padStart(exp + 1, '0');
  const whole = digits.slice(0, digits.length - exp).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const frac = exp > 0 ? `.${digits.slice(digits.length - exp)}` : '';
  return `${currency} ${negative ? '-' : ''}${whole}${frac}`;
}

/** Minor units as a plain number of major units, for the chart's axis. */
export function majorUnits(minor: number, currency: string | null): number {
  return minor / 10 ** exponent(currency ?? 'KES');
}

const OPERATION: Record<string, string> = {
  redeem: 'Redeemed',
  create_voucher: 'Refund vouchers',
  checkout: 'Payments',
  payout: 'Payouts',
};

export function operationLabel(operation: string): string {
  return OPERATION[operation] ?? operation;
}

/** One line of the totals strip. */
export interface TotalLine {
  key: string;
  label: string;
  completed: string;
  completedCount: number;
  open: string | null;
  openCount: number;
  failedCount: number;
  training: boolean;
}

/** Real business first, by currency then operation; never a sum across them. */
export function totalLines(totals: HistoryTotals | null | undefined): TotalLine[] {
  if (!totals) return [];
  const sorted = [...totals.by_currency].sort(
    (a, b) =>
      Number(a.training) - Number(b.training) ||
      (a.currency ?? '~').localeCompare(b.currency ?? '~') ||
      a.operation.localeCompare(b.operation),
  );
  return sorted.map((c: CurrencyTotal) => ({
    key: `${c.training}-${c.currency ?? ''}-${c.operation}`,
    label: `${operationLabel(c.operation)}${c.currency ? ` in ${c.currency}` : ''}${c.training ? ' (training)' : ''}`,
    completed: moneyText(c.completed_minor, c.currency),
    completedCount: c.completed_count,
    open: c.open_count > 0 ? moneyText(c.open_minor, c.currency) : null,
    openCount: c.open_count,
    failedCount: c.failed_count,
    training: c.training,
  }));
}

/** The currencies of a chart, the busiest first. */
export function chartCurrencies(daily: DailyTotals | null | undefined): string[] {
  const sums = new Map<string, number>();
  for (const d of daily?.days ?? []) {
    if (d.currency === null) continue;
    sums.set(d.currency, (sums.get(d.currency) ?? 0) + d.completed_count);
  }
  return [...sums.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([c]) => c);
}

/** Every day from first to last, inclusive (YYYY-MM-DD). */
export function daysBetween(first: string, last: string): string[] {
  if (!isDay(first) || !isDay(last) || first > last) return [];
  const out: string[] = [];
  const [y, m, d] = first.split('-').map(Number) as [number, number, number];
  for (let t = Date.UTC(y, m - 1, d); ; t += 86_400_000) {
    const day = new Date(t).toISOString().slice(0, 10);
    if (day > last) break;
    out.push(day);
  }
  return out;
}

export interface ChartSeries {
  /** Provider id (and operation, training): stable across filters, for colours. */
  key: string;
  provider: string;
  label: string;
  /** Completed amount per day, major units, one per label. */
  data: number[];
}

export interface ChartData {
  labels: string[];
  series: ChartSeries[];
}

/**
 * The chart of one currency: a bar per day, a stacked segment per provider
 * (and operation, when a provider has more than one), what completed.
 */
export function chartData(
  daily: DailyTotals | null | undefined,
  currency: string | null,
  name: (provider: string) => string,
): ChartData {
  if (!daily || daily.first_day === null || daily.last_day === null || currency === null) {
    return { labels: [], series: [] };
  }
  const labels = daysBetween(daily.first_day, daily.last_day);
  const index = new Map(labels.map((d, i) => [d, i]));
  const days = daily.days.filter((d) => d.currency === currency);
  const operations = new Map<string, Set<string>>();
  for (const d of days) {
    const ops = operations.get(d.provider) ?? new Set<string>();
    ops.add(d.operation);
    operations.set(d.provider, ops);
  }
  const series = new Map<string, ChartSeries>();
  for (const d of days) {
    const i = index.get(d.day);
    if (i === undefined) continue;
    const key = `${d.provider}/${d.operation}/${d.training ? 't' : 'r'}`;
    let s = series.get(key);
    if (!s) {
      const op = (operations.get(d.provider)?.size ?? 0) > 1 ? ` ${operationLabel(d.operation).toLowerCase()}` : '';
      s = {
        key,
        provider: d.provider,
        label: `${name(d.provider)}${op}${d.training ? ' (training)' : ''}`,
        data: labels.map(() => 0),
      };
      series.set(key, s);
    }
    s.data[i] = (s.data[i] ?? 0) + majorUnits(d.completed_minor, currency);
  }
  return { labels, series: [...series.values()].sort((a, b) => a.key.localeCompare(b.key)) };
}

/**
 * Keyset paging: the cursors that started each page seen so far. Next pushes
 * the page's own `next`; Prev pops back to the page before.
 */
export interface Pager {
  /** starts[i] is the cursor that page i was asked with (null: the first page). */
  starts: (HistoryCursor | null)[];
}

export function firstPage(): Pager {
  return { starts: [null] };
}

export function pageNumber(p: Pager): number {
  return p.starts.length;
}

export function currentStart(p: Pager): HistoryCursor | null {
  return p.starts[p.starts.length - 1] ?? null;
}

export function nextPage(p: Pager, next: HistoryCursor): Pager {
  return { starts: [...p.starts, next] };
}

export function prevPage(p: Pager): Pager {
  return p.starts.length > 1 ? { starts: p.starts.slice(0, -1) } : p;
}

/** 0 to 100, for a progress bar; a task with nothing to do is done. */
export function percent(p: Progress | null): number {
  if (p === null) return 0;
  if (p.total <= 0) return 100;
  return Math.max(0, Math.min(100, Math.round((p.done / p.total) * 100)));
}

export function progressText(p: Progress | null, noun: string): string {
  if (p === null) return '';
  const n = (x: number): string => x.toLocaleString('en-GB');
  return `${n(Math.min(p.done, Math.max(p.total, p.done)))} of ${n(p.total)} ${noun}`;
}

/** The verification's verdict, as the Audit tab states it. */
export interface Verdict {
  intact: boolean;
  headline: string;
  /** What the anchor kept at the last shift close says, in plain words. */
  anchor: string;
}

export function verdict(v: AuditVerification): Verdict {
  const rows = v.rows.toLocaleString('en-GB');
  const headline =
    v.first_bad === null
      ? `Intact: ${rows} rows`
      : `Broken at row ${v.first_bad.seq}: ${v.first_bad.reason}`;
  let anchor: string;
  switch (v.anchor.status) {
    case 'none':
      anchor = 'No shift has closed at this till yet: there is no anchor to check the end of the log against.';
      break;
    case 'matched':
      anchor = `Matches the head kept at the shift close of ${localDateTime(v.anchor.anchor.at)} (row ${v.anchor.anchor.seq}).`;
      break;
    case 'missing':
      anchor = `Row ${v.anchor.anchor.seq}, anchored at the shift close of ${localDateTime(v.anchor.anchor.at)}, is gone.`;
      break;
    case 'mismatch':
      anchor = `Row ${v.anchor.anchor.seq} differs from the head kept at the shift close of ${localDateTime(v.anchor.anchor.at)}.`;
      break;
    case 'unchecked':
      anchor = `The anchor could not be read: ${v.anchor.reason}`;
      break;
  }
  return { intact: v.first_bad === null, headline, anchor };
}

/** "redeem_attempt" → "Redeem attempt". */
export function eventLabel(event: string): string {
  const words = event.replace(/_/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}
