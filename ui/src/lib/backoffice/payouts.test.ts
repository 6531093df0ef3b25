import { describe, expect, it } from 'vitest';
import type { Payout, PayoutCorridor } from '../../types';
import { checkPayout, nextPoll, payoutHeadline, payoutTone, recipientFor, upsert } from './payouts';

const mobile: PayoutCorridor = {
  id: 'KES::Mobile',
  label: 'M-Pesa (Kenya)',
  currency: 'KES',
  recipient_type: 'person',
  whole_units: true,
  fields: [
    { name: 'first_name', label: 'First name', required: true, kind: 'text', options: [], placeholder: '' },
    { name: 'last_name', label: 'Last name', required: true, kind: 'text', options: [], placeholder: '' },
    { name: 'phone_number', label: 'M-Pesa number', required: true, kind: 'phone', options: [], placeholder: '' },
    { name: 'note', label: 'Note', required: false, kind: 'text', options: [], placeholder: '' },
  ],
  min: null,
  max: null,
};

const input = (amount: string, recipient: Record<string, string>, reason = 'Refund of order 12') => ({
  corridor: 'KES::Mobile',
  amount,
  recipient,
  reason,
});
const person = { first_name: 'Amina', last_name: 'Wanjiku', phone_number: '0712345678' };

function payout(over: Partial<Payout>): Payout {
  return {
    transaction_id: 't1',
    bitpesa_id: 'b1',
    corridor: 'KES::Mobile',
    state: 'pending',
    provider_state: 'received',
    recipient_state: 'pending',
    amount: null,
    output: null,
    recipient: 'Amina W. 2547•••••678',
    reason: null,
    state_reason: null,
    may_cancel: false,
    cancel_requested: false,
    message: '',
    receipt: null,
    training: true,
    created_at: '2026-11-25T10:00:00.000Z',
    poll_after_ms: 2000,
    ...over,
  };
}

describe('checkPayout', () => {
  it('accepts a complete form', () => {
    expect(checkPayout(mobile, input('1,500', person))).toBeNull();
  });

  it('needs a corridor, an amount, the required fields and a reason', () => {
    expect(checkPayout(undefined, input('1', person))).toMatch(/where the money goes/);
    for (const bad of ['', '0', '-5', 'abc', '1.2.3']) {
      expect(checkPayout(mobile, input(bad, person))).toMatch(/amount in KES/);
    }
    expect(checkPayout(mobile, input('100', { ...person, phone_number: ' ' }))).toMatch(/M-Pesa number/);
    expect(checkPayout(mobile, input('100', person, '  '))).toMatch(/Say why/);
    expect(checkPayout(mobile, input('100', person, 'x'.repeat(141)))).toMatch(/140/);
  });

  it('refuses cents where the currency is paid in whole units', () => {
    expect(checkPayout(mobile, input('100.50', person))).toMatch(/whole units/);
    expect(checkPayout(mobile, input('100.00', person))).toBeNull();
  });
});

describe('recipientFor', () => {
  it('keeps only this corridor’s filled fields, trimmed', () => {
    expect(recipientFor(mobile, { ...person, first_name: ' Amina ', bank_code: '01', note: '' })).toEqual(person);
  });
});

describe('polling', () => {
  it('never asks sooner than the hint (BitPesa limits status reads), nor faster than 250 ms', () => {
    expect(nextPoll(payout({ poll_after_ms: 2500 }))).toBe(2500);
    expect(nextPoll(payout({ poll_after_ms: 10 }))).toBe(250);
    expect(nextPoll(payout({ poll_after_ms: 3_600_000 }))).toBe(3_600_000);
    expect(nextPoll(payout({ state: 'completed', poll_after_ms: null }))).toBeNull();
  });
});

describe('how a payout reads', () => {
  it('names each state plainly', () => {
    expect([payoutTone(payout({ state: 'completed' })), payoutHeadline(payout({ state: 'completed' }))]).toEqual([
      'ok',
      'Paid out',
    ]);
    expect(payoutHeadline(payout({ state: 'failed', cancel_requested: true }))).toMatch(/back in the balance/);
    expect(payoutTone(payout({ recipient_state: 'error' }))).toBe('warn');
    expect(payoutHeadline(payout({ recipient_state: 'error' }))).toMatch(/cancel it/);
    expect(payoutHeadline(payout({ cancel_requested: true }))).toBe('Cancelling…');
    expect(payoutTone(payout({ state: 'unknown' }))).toBe('warn');
  });
});

describe('upsert', () => {
  it('replaces by id and keeps newest first', () => {
    const a = payout({ transaction_id: 'a', created_at: '2026-11-25T09:00:00.000Z' });
    const b = payout({ transaction_id: 'b', created_at: '2026-11-25T11:00:00.000Z' });
    const a2 = { ...a, state: 'completed' as const };
    expect(upsert([b, a], a2).map((p) => [p.transaction_id, p.state])).toEqual([
      ['b', 'pending'],
      ['a', 'completed'],
    ]);
  });
});
