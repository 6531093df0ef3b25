import { describe, expect, it } from 'vitest';
import type { Redemption } from '../types';
import {
  amountText,
  credentialText,
  localTime,
  receiptText,
  referenceLabel,
  smsStatusText,
  subjectLabel,
  successMessage,
} from './format';

const base: Redemption = {
  transaction_id: 'tx-1',
  provider: 'pesavoucher',
  state: 'completed',
  amount: { minor: 75000, currency: 'KES', display: 'KES 750.00' },
  customer_name: 'Wanjiku',
  code_masked: 'AB****',
  provider_reference: null,
  message: '',
  receipt: null,
};

describe('format', () => {
  it('success message is the backend message, verbatim', () => {
    expect(successMessage({ ...base, message: 'KES 750.00 redeemed: hand over the goods' })).toBe(
      'KES 750.00 redeemed: hand over the goods',
    );
    const whole = 'Redeemed (ETB 500.00 transferred to the merchant): hand over the goods';
    expect(successMessage({ ...base, provider: 'telesend', amount: null, message: whole })).toBe(whole);
  });

  it('success message falls back to the amount when the backend sent none', () => {
    expect(successMessage(base)).toBe('KES 750.00 redeemed: hand over the goods');
    expect(successMessage({ ...base, amount: { minor: 120050, currency: 'KES', display: 'KES 1,200.50' } })).toBe(
      'KES 1,200.50 redeemed: hand over the goods',
    );
  });

  it('labels the Telesend reference as the Telebirr reference', () => {
    expect(referenceLabel('telesend')).toBe('Telebirr ref');
    expect(referenceLabel('pesavoucher')).toBe('Reference');
    expect(referenceLabel('pesavoucher', 'Provider reference')).toBe('Provider reference');
  });

  it("labels GiftPesa's ReceiptNo, and its masked phone where others have a voucher", () => {
    expect(referenceLabel('giftpesa')).toBe('Receipt No');
    expect(referenceLabel('giftpesa', 'Provider reference')).toBe('Receipt No');
    expect(subjectLabel('giftpesa')).toBe('Phone');
    expect(subjectLabel('pesapal')).toBe('Contact');
    expect(referenceLabel('pesapal')).toBe('Pesapal order');
    expect(subjectLabel('telesend')).toBe('Voucher');
    expect(subjectLabel('pesavoucher')).toBe('Voucher');
  });

  it('SMS status names the claimed amount, or the whole voucher', () => {
    const claim = { claim_id: 'c', code_masked: 'TS****', message: '', training_sms_code: null };
    expect(smsStatusText({ ...claim, amount: { minor: 20000, currency: 'ETB', display: 'ETB 200.00' } })).toBe(
      'SMS code sent to the customer for ETB 200.00',
    );
    expect(smsStatusText({ ...claim, amount: null })).toBe('SMS code sent to the customer for the whole voucher');
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
