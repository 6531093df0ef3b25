import { describe, expect, it } from 'vitest';
import type { AuditVerification, DailyTotals, HistoryTotals } from '../../types';
import {
  chartCurrencies,
  chartData,
  currentStart,
  daysBetween,
  defaultForm,
  eventLabel,
  firstPage,
  moneyText,
  nextPage,
  pageNumber,
  percent,
  prevPage,
  toFilter,
  totalLines,
  verdict,
} from './history';

describe('the filter form', () => {
  it('opens on today', () => {
    const f = defaultForm(new Date(2026, 10, 5, 9, 30));
    expect(f.since).toBe('2026-11-05');
    expect(f.until).toBe('2026-11-05');
    expect(f.includeTraining).toBe(false);
  });

  it('sends blanks as no narrowing and trims text', () => {
    const form = { ...defaultForm(new Date(2026, 10, 25)), cashier: '  Amina ', search: ' 0720 ', provider: 'giftpesa' };
    expect(toFilter(form)).toEqual({
      filter: {
        since: '2026-11-25',
        until: '2026-11-25',
        provider: 'giftpesa',
        state: null,
        cashier: 'Amina',
        till_id: null,
        search: '0720',
        include_training: false,
      },
    });
    const open = toFilter({ ...form, since: '', until: '' });
    expect('filter' in open && open.filter.since === null && open.filter.until === null).toBe(true);
  });

  it('refuses what the backend would refuse, in plain words', () => {
    const form = defaultForm(new Date(2026, 10, 25));
    expect(toFilter({ ...form, since: '25/11/2026' })).toEqual({ error: 'From is not a date: use YYYY-MM-DD.' });
    expect(toFilter({ ...form, until: '2026-02-30' })).toEqual({ error: 'To is not a date: use YYYY-MM-DD.' });
    expect(toFilter({ ...form, since: '2026-11-26', until: '2026-11-24' })).toEqual({
      error: 'From is after To: the period is empty.',
    });
    expect(toFilter({ ...form, search: 'X'.repeat(65) })).toHaveProperty('error');
  });
});

describe('money of totals', () => {
  it('is written as the backend writes money, from integer minor units', () => {
    expect(moneyText(120_050, 'KES')).toBe('KES 1,200.50');
    expect(moneyText(5, 'KES')).toBe('KES 0.05');
    expect(moneyText(0, 'ETB')).toBe('ETB 0.00');
    expect(moneyText(1_234_567, 'UGX')).toBe('UGX 1,234,567');
    expect(moneyText(-75_000, 'KES')).toBe('KES -750.00');
    expect(moneyText(123_456_789_012, 'KES')).toBe('KES 1,234,567,890.12');
    expect(moneyText(100, null)).toBe('—');
  });

  it('lists real business first, per currency and operation, never summed across them', () => {
    const totals: HistoryTotals = {
      count: 9,
      by_currency: [
        { training: true, currency: 'KES', operation: 'redeem', count: 1, completed_count: 1, completed_minor: 500_000, open_count: 0, open_minor: 0, failed_count: 0 },
        { training: false, currency: 'KES', operation: 'redeem', count: 5, completed_count: 3, completed_minor: 195_050, open_count: 1, open_minor: 25_000, failed_count: 1 },
        { training: false, currency: 'ETB', operation: 'redeem', count: 3, completed_count: 3, completed_minor: 250_000, open_count: 0, open_minor: 0, failed_count: 0 },
      ],
    };
    const lines = totalLines(totals);
    expect(lines.map((l) => l.label)).toEqual(['Redeemed in ETB', 'Redeemed in KES', 'Redeemed in KES (training)']);
    expect(lines[1]).toMatchObject({ completed: 'KES 1,950.50', open: 'KES 250.00', openCount: 1, failedCount: 1 });
    expect(lines[0]?.open).toBeNull();
    expect(totalLines(undefined)).toEqual([]);
  });
});

describe('the daily chart', () => {
  const daily: DailyTotals = {
    first_day: '2026-11-24',
    last_day: '2026-11-26',
    clipped: false,
    days: [
      { day: '2026-11-24', training: false, currency: 'KES', provider: 'pesavoucher', operation: 'redeem', count: 2, completed_count: 2, completed_minor: 195_050 },
      { day: '2026-11-24', training: false, currency: 'ETB', provider: 'telesend', operation: 'redeem', count: 1, completed_count: 1, completed_minor: 250_000 },
      { day: '2026-11-26', training: false, currency: 'KES', provider: 'pesavoucher', operation: 'redeem', count: 1, completed_count: 1, completed_minor: 75_000 },
      { day: '2026-11-26', training: false, currency: 'KES', provider: 'pesavoucher', operation: 'create_voucher', count: 1, completed_count: 1, completed_minor: 10_000 },
      { day: '2026-11-26', training: false, currency: 'KES', provider: 'giftpesa', operation: 'redeem', count: 4, completed_count: 3, completed_minor: 30_000 },
      { day: '2026-11-26', training: false, currency: null, provider: 'giftpesa', operation: 'redeem', count: 1, completed_count: 0, completed_minor: 0 },
    ],
  };
  const name = (p: string): string => ({ pesavoucher: 'PesaVoucher', giftpesa: 'GiftPesa', telesend: 'Telesend' })[p] ?? p;

  it('shows every day of the period, empty ones too', () => {
    expect(daysBetween('2026-02-27', '2026-03-02')).toEqual(['2026-02-27', '2026-02-28', '2026-03-01', '2026-03-02']);
    expect(daysBetween('2026-11-26', '2026-11-24')).toEqual([]);
  });

  it('offers the busiest currency first', () => {
    expect(chartCurrencies(daily)).toEqual(['KES', 'ETB']);
    expect(chartCurrencies(undefined)).toEqual([]);
  });

  it('stacks one series per provider in one currency, in major units', () => {
    const c = chartData(daily, 'KES', name);
    expect(c.labels).toEqual(['2026-11-24', '2026-11-25', '2026-11-26']);
    const by = Object.fromEntries(c.series.map((s) => [s.label, s.data]));
    expect(by).toEqual({
      GiftPesa: [0, 0, 300],
      'PesaVoucher redeemed': [1950.5, 0, 750],
      'PesaVoucher refund vouchers': [0, 0, 100],
    });
    expect(chartData(daily, 'ETB', name).series.map((s) => s.data)).toEqual([[2500, 0, 0]]);
    expect(chartData(undefined, 'KES', name)).toEqual({ labels: [], series: [] });
  });
});

describe('keyset paging', () => {
  it('goes forward with each page’s cursor and back to the one before', () => {
    let p = firstPage();
    expect(currentStart(p)).toBeNull();
    p = nextPage(p, { created_at: '2026-11-25T10:00:00.000Z', id: 'b' });
    p = nextPage(p, { created_at: '2026-11-25T09:00:00.000Z', id: 'a' });
    expect(pageNumber(p)).toBe(3);
    p = prevPage(p);
    expect(currentStart(p)).toEqual({ created_at: '2026-11-25T10:00:00.000Z', id: 'b' });
    p = prevPage(prevPage(p));
    expect(pageNumber(p)).toBe(1);
    expect(currentStart(p)).toBeNull();
  });
});

describe('progress and the audit verdict', () => {
  it('clamps the bar', () => {
    expect(percent(null)).toBe(0);
    expect(percent({ done: 0, total: 0 })).toBe(100);
    expect(percent({ done: 5_000, total: 20_000 })).toBe(25);
    expect(percent({ done: 30, total: 20 })).toBe(100);
  });

  it('says intact with the row count, or names the first broken row', () => {
    const ok: AuditVerification = { rows: 12_345, head: 'ab', first_bad: null, anchor: { status: 'none' } };
    expect(verdict(ok)).toMatchObject({ intact: true, headline: 'Intact: 12,345 rows' });
    const bad: AuditVerification = {
      rows: 6,
      head: 'cd',
      first_bad: { seq: 7, reason: 'its content does not match its hash (the row was changed)' },
      anchor: { status: 'unchecked', reason: 'no keyring' },
    };
    const v = verdict(bad);
    expect(v.intact).toBe(false);
    expect(v.headline).toBe('Broken at row 7: its content does not match its hash (the row was changed)');
    expect(v.anchor).toMatch(/no keyring/);
  });

  it('reads event names as words', () => {
    expect(eventLabel('receipt_reprinted')).toBe('Receipt reprinted');
  });
});
