// The Payouts tab's rules, kept out of the component so they are tested:
// what the form must hold before it is sent, when to ask BitPesa again,
// and how a payout's state reads to a manager.
import type { Payout, PayoutCorridor, PayoutInput } from '../../types';

/** Why the form cannot be sent yet, or null when it can. */
export function checkPayout(corridor: PayoutCorridor | undefined, input: PayoutInput): string | null {
  if (!corridor) return 'Choose where the money goes.';
  const amount = input.amount.replace(/,/g, '').trim();
  if (!/^\d+(\.\d+)?$/.test(amount) || Number(amount) <= 0) {
    return `Type the amount in ${corridor.currency}.`;
  }
  if (corridor.whole_units && amount.includes('.') && !/\.0+$/.test(amount)) {
    return `${corridor.currency} is paid in whole units: no cents.`;
  }
  const missing = corridor.fields.filter((f) => f.required && (input.recipient[f.name] ?? '').trim() === '');
  if (missing.length > 0) return `Fill in ${missing.map((f) => f.label).join(', ')}.`;
  if (input.reason.trim() === '') return 'Say why: the order refunded or the invoice paid.';
  if (input.reason.trim().length > 140) return 'Keep the reason to 140 characters.';
  return null;
}

/** Only the fields this corridor asks for, trimmed: nothing stale from another corridor. */
export function recipientFor(corridor: PayoutCorridor, values: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of corridor.fields) {
    const v = (values[f.name] ?? '').trim();
    if (v !== '') out[f.name] = v;
  }
  return out;
}

/**
 * The next poll: the backend's hint, which keeps within BitPesa's limits on
 * status reads (six in the first hour, then hourly): never sooner, whatever
 * the hint, and never faster than every 250 ms even in training. A wait
 * longer than a browser timer can hold is capped there; null when final.
 */
export function nextPoll(p: Payout): number | null {
  if (p.poll_after_ms === null) return null;
  return Math.min(MAX_TIMER_MS, Math.max(250, p.poll_after_ms));
}

/** setTimeout's longest wait (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2_147_483_647;

export type Tone = 'ok' | 'bad' | 'wait' | 'warn';

/** How a payout reads at a glance. */
export function payoutTone(p: Payout): Tone {
  switch (p.state) {
    case 'completed':
      return 'ok';
    case 'failed':
      return 'bad';
    case 'unknown':
      return 'warn';
    default:
      return p.recipient_state === 'error' || p.provider_state === 'manual' ? 'warn' : 'wait';
  }
}

export function payoutHeadline(p: Payout): string {
  switch (p.state) {
    case 'completed':
      return 'Paid out';
    case 'failed':
      return p.cancel_requested ? 'Cancelled: the money is back in the balance' : 'Failed';
    case 'unknown':
      return 'Outcome unknown: check it before paying again';
    default:
      if (p.cancel_requested) return 'Cancelling…';
      return p.recipient_state === 'error' ? 'Payout failing: cancel it, or wait' : 'On its way';
  }
}

/** Replaces one payout in a list by id (newest first), adding it when new. */
export function upsert(list: Payout[], p: Payout): Payout[] {
  const rest = list.filter((x) => x.transaction_id !== p.transaction_id);
  return [p, ...rest].sort((a, b) => b.created_at.localeCompare(a.created_at));
}
