// Text the cashier reads. Money is never formatted here: the backend's
// MoneyView.display is the single source of truth for amounts.
import type { ClaimResult, CredentialStatus, MoneyView, ReceiptView, Redemption } from '../types';

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** RFC 3339 UTC timestamp → local "HH:MM" (24-hour, as used on Kenyan tills). */
export function localTime(rfc3339: string): string {
  const d = new Date(rfc3339);
  if (Number.isNaN(d.getTime())) return '--:--';
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}

export function amountText(amount: MoneyView | null | undefined): string {
  return amount?.display ?? '—';
}

/** The backend's own headline; the fallback only covers an empty message. */
export function successMessage(r: Redemption): string {
  const message = r.message.trim();
  if (message !== '') return message;
  return `${r.amount ? r.amount.display : 'Voucher'} redeemed: hand over the goods`;
}

/** What the provider's own reference is called on screen. */
export function referenceLabel(provider: string, fallback = 'Reference'): string {
  switch (provider) {
    case 'telesend':
      return 'Telebirr ref';
    case 'giftpesa':
      return 'Receipt No';
    case 'pesapal':
      return 'Pesapal order';
    default:
      return fallback;
  }
}

/**
 * What `code_masked` is: GiftPesa has no voucher code and masks the customer's
 * phone; a Pesapal checkout masks the customer's phone or email.
 */
export function subjectLabel(provider: string): string {
  switch (provider) {
    case 'giftpesa':
      return 'Phone';
    case 'pesapal':
      return 'Contact';
    default:
      return 'Voucher';
  }
}

/** An extra line on an outcome panel, e.g. Pesapal's payment method, under a fixed DOM id. */
export interface Fact {
  id: string;
  label: string;
  value: string;
}

/** Telesend, after a claim: what the customer's SMS code is good for. */
export function smsStatusText(claim: ClaimResult): string {
  return `SMS code sent to the customer for ${claim.amount?.display ?? 'the whole voucher'}`;
}

export function receiptText(receipt: ReceiptView | null): string {
  if (!receipt) return 'No receipt was produced';
  const main = receipt.printed
    ? receipt.printer
      ? `Receipt printed on ${receipt.printer}`
      : 'Receipt printed'
    : `Receipt saved: ${receipt.path}`;
  return receipt.print_error ? `${main} (printer problem: ${receipt.print_error})` : main;
}

/**
 * When not configured, the backend's message explains why (e.g. the keyring is
 * locked), so it wins over the generic "Not set".
 */
export function credentialText(status: CredentialStatus | undefined): string {
  if (!status) return 'Not set';
  if (status.configured) return 'Saved in the system keyring';
  return status.message.trim() || 'Not set';
}
