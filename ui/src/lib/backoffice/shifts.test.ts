import { describe, expect, it, vi } from 'vitest';
import type { GroupLine, ShiftReport, ShiftReprinted, ShiftRow } from '../../types';
import {
  canReprint,
  closeWarning,
  currencyHeading,
  deliveryText,
  openCount,
  operationLabel,
  providerBlocks,
  reportTitle,
  reprinter,
  type ReprintView,
  shiftSummary,
} from './shifts';

const shift: ShiftRow = {
  id: 's1',
  till_id: 'TILL-1',
  opened_by: 'Amina',
  opened_at: '2026-11-25T05:00:00.000Z',
  closed_by: null,
  closed_at: null,
  audit_head_seq: null,
  audit_head_hash: null,
};

const money = (minor: number, display: string) => ({ minor, currency: 'KES', display });

function line(state: GroupLine['state'], extra: Partial<GroupLine> = {}): GroupLine {
  return {
    training: false,
    currency: 'KES',
    provider: 'pesavoucher',
    provider_name: 'PesaVoucher',
    operation: 'redeem',
    state,
    count: 1,
    amount_minor: 100,
    amount: money(100, 'KES 1.00'),
    ...extra,
  };
}

function report(openCounts: number[]): ShiftReport {
  return {
    kind: 'x',
    store_name: 'Duka',
    shift,
    until: '2026-11-25T09:00:00.000Z',
    training: false,
    count: 3,
    by_currency: openCounts.map((open_count, i) => ({
      training: false,
      currency: i === 0 ? 'KES' : 'ETB',
      operation: 'redeem',
      count: 3,
      completed_count: 1,
      completed_minor: 100,
      open_count,
      open_minor: 0,
      failed_count: 0,
      completed: money(100, 'KES 1.00'),
      open: null,
    })),
    by_provider: [],
    by_cashier: [],
    audit_head: null,
    reprint: null,
  };
}

describe('labels', () => {
  it('names operations and marks training lines', () => {
    expect(operationLabel('redeem')).toBe('Vouchers redeemed');
    expect(operationLabel('checkout')).toBe('Payments taken');
    expect(operationLabel('mystery')).toBe('mystery');
    expect(currencyHeading({ currency: 'ETB', operation: 'redeem', training: true })).toBe(
      'ETB · Vouchers redeemed (training)',
    );
    expect(currencyHeading({ currency: null, operation: 'redeem', training: false })).toBe(
      'No amount · Vouchers redeemed',
    );
  });

  it('says who opened and closed a shift', () => {
    expect(shiftSummary(shift)).toMatch(/^Opened by Amina on \d+ \w+ 2026 \d\d:\d\d$/);
    const closed = { ...shift, closed_by: 'Mama Njeri', closed_at: '2026-11-25T14:00:00.000Z' };
    expect(shiftSummary(closed)).toMatch(/closed by Mama Njeri on /);
  });

  it('titles X and Z reports', () => {
    expect(reportTitle(report([0]))).toBe('X report — running');
    expect(reportTitle({ ...report([0]), kind: 'z' })).toBe('Z report — shift closed');
  });
});

describe('closeWarning', () => {
  it('is silent when nothing is open', () => {
    expect(closeWarning(null)).toBeNull();
    expect(closeWarning(report([0, 0]))).toBeNull();
  });

  it('counts open transactions across currencies', () => {
    expect(openCount(report([1, 2]))).toBe(3);
    expect(closeWarning(report([1, 0]))).toMatch(/^1 transaction is still pending or unknown/);
    expect(closeWarning(report([1, 2]))).toMatch(/^3 transactions are/);
  });
});

describe('providerBlocks', () => {
  it('groups states under provider, operation and currency, keeping training apart', () => {
    const blocks = providerBlocks([
      line('completed'),
      line('failed'),
      line('completed', { currency: 'ETB', provider: 'telesend', provider_name: 'Telesend' }),
      line('completed', { training: true }),
    ]);
    expect(blocks.map((b) => b.title)).toEqual([
      'PesaVoucher · Vouchers redeemed · KES',
      'Telesend · Vouchers redeemed · ETB',
      'PesaVoucher · Vouchers redeemed · KES (training)',
    ]);
    expect(blocks[0]?.rows.map((r) => r.state)).toEqual(['completed', 'failed']);
  });
});

describe('deliveryText', () => {
  it('says where the PDF went', () => {
    expect(deliveryText(null)).toBe('Not saved');
    expect(deliveryText({ path: '/r/z.pdf', printed: false, printer: null, print_error: null })).toBe('Saved as PDF');
    expect(deliveryText({ path: '/r/z.pdf', printed: true, printer: 'PDF', print_error: null })).toBe(
      'Printed on PDF; saved as PDF',
    );
    expect(deliveryText({ path: '/r/z.pdf', printed: false, printer: null, print_error: 'no printer' })).toBe(
      'Saved as PDF (printer problem: no printer)',
    );
    expect(deliveryText({ path: '', printed: false, printer: null, print_error: 'disk full' })).toBe(
      'Not saved: disk full',
    );
  });
});

describe('reprinting a Z report', () => {
  const closed: ShiftRow = {
    ...shift,
    closed_by: 'Mama Njeri',
    closed_at: '2026-11-25T14:00:00.000Z',
    audit_head_seq: 12,
    audit_head_hash: 'abc',
  };

  function reprinted(delivery: Partial<ShiftReprinted['delivery']> = {}): ShiftReprinted {
    return {
      report: { ...report([0]), kind: 'z', shift: closed, reprint: { by: 'Mama Njeri', at: '2026-11-26T08:00:00.000Z' } },
      delivery: { path: '/data/reports/s1-z-reprint-1.pdf', printed: false, printer: null, print_error: null, ...delivery },
    };
  }

  it('is offered for closed shifts only', () => {
    expect(canReprint(shift)).toBe(false);
    expect(canReprint(closed)).toBe(true);
  });

  it('shows where the copy went, and a printer problem', async () => {
    const views: ReprintView[] = [];
    const send = vi.fn().mockResolvedValueOnce(reprinted({ printed: true, printer: 'EPSON' }));
    send.mockResolvedValueOnce(reprinted({ print_error: 'the printer is out of paper' }));
    const reprint = reprinter(send, String, (v) => views.push(v));
    await reprint('s1');
    expect(views[0]).toEqual({ shiftId: 's1', pending: true, text: null, path: null, failed: false });
    expect(views[1]).toEqual({
      shiftId: 's1',
      pending: false,
      text: 'Z report reprinted (marked REPRINT): Printed on EPSON; saved as PDF',
      path: '/data/reports/s1-z-reprint-1.pdf',
      failed: false,
    });
    await reprint('s1');
    expect(views[3]?.text).toBe(
      'Z report reprinted (marked REPRINT): Saved as PDF (printer problem: the printer is out of paper)',
    );
    expect(views[3]?.failed).toBe(true);
  });

  it('shows a refusal in plain words', async () => {
    const views: ReprintView[] = [];
    const refusal = { code: 'z_report_not_kept', message: 'This shift closed before Kaunta kept Z report figures' };
    const send = vi.fn().mockRejectedValue(refusal);
    await reprinter(send, (e) => (e as { message: string }).message, (v) => views.push(v))('s1');
    expect(views.at(-1)).toEqual({ shiftId: 's1', pending: false, text: refusal.message, path: null, failed: true });
  });

  it('sends once for a double click, and again once the first is done', async () => {
    let finish: (r: ShiftReprinted) => void = () => {};
    const send = vi.fn(() => new Promise<ShiftReprinted>((resolve) => (finish = resolve)));
    const reprint = reprinter(send, String, () => {});
    const first = reprint('s1');
    await reprint('s1');
    await reprint('s2');
    expect(send).toHaveBeenCalledTimes(1);
    finish(reprinted());
    await first;
    const second = reprint('s1');
    expect(send).toHaveBeenCalledTimes(2);
    finish(reprinted());
    await second;
  });
});
