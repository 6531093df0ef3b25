import { describe, expect, it } from 'vitest';
import type { Redemption } from '../types';
import { amountText, credentialText, localTime, receiptText, successMessage } from './format';

const base: Redemption = {
  transaction_id: 'tx-1',
  state: 'completed',
  amount: { minor: 75000, currency: 'KES', display: 'KES 750.00' },
  customer_name: 'Wanjiku',
  code_masked: 'AB****',
  provider_reference: null,
  message: '',
  receipt: null,
};

describe('format', () => {
  it('success message uses the backend display string verbatim', () => {
    expect(successMessage(base)).toBe('KES 750.00 redeemed: hand over the goods');
    expect(successMessage({ ...base, amount: { minor: 120050, currency: 'KES', display: 'KES 1,200.50' } })).toBe(
      'KES 1,200.50 redeemed: hand over the goods',
    );
  });

  it('local time is HH:MM in the local zone', () => {
    const iso = '2025-03-01T06:05:00Z';
    const d = new Date(iso);
    const expected = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
    expect(localTime(iso)).toBe(expected);
    expect(localTime('not a date')).toBe('--:--');
  });

  it('amount falls back to a dash', () => {
    expect(amountText(null)).toBe('—');
    expect(amountText({ minor: 1, currency: 'KES', display: 'KES 0.01' })).toBe('KES 0.01');
  });

  it('receipt status', () => {
    expect(receiptText({ path: '/r/1.pdf', printed: true, printer: 'EPSON TM-T20', print_error: null })).toBe(
      'Receipt printed on EPSON TM-T20',
    );
    expect(receiptText({ path: '/r/1.pdf', printed: false, printer: null, print_error: null })).toBe(
      'Receipt saved: /r/1.pdf',
    );
    expect(receiptText({ path: '/r/1.pdf', printed: false, printer: null, print_error: 'Out of paper' })).toBe(
      'Receipt saved: /r/1.pdf (printer problem: Out of paper)',
    );
    expect(receiptText(null)).toBe('No receipt was produced');
  });

  it('credential status', () => {
    const s = { provider: 'pesavoucher', environment: 'sandbox', configured: true, message: 'ok' };
    expect(credentialText(s)).toBe('Saved in the system keyring');
    expect(credentialText({ ...s, configured: false, message: '' })).toBe('Not set');
    expect(credentialText({ ...s, configured: false, message: 'The keyring is locked' })).toBe('The keyring is locked');
    expect(credentialText(undefined)).toBe('Not set');
  });
});
