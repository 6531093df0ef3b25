import { describe, expect, it } from 'vitest';
import type { ClaimResult, Redemption } from '../types';
import {
  ANONYMOUS_WITH_AMOUNT,
  SEND_SMS_HINT,
  Telesend,
  errorRoute,
  giftKeyAction,
  type Field,
  type GiftBackend,
  type GiftKind,
} from './telesend';

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (reason: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const claimed = (amount: string | null = null, sms: string | null = null): ClaimResult => ({
  claim_id: 'claim-1',
  code_masked: 'TS****99',
  amount: amount === null ? null : { minor: Number(amount) * 100, currency: 'ETB', display: `ETB ${amount}.00` },
  message: 'SMS code sent',
  training_sms_code: sms,
});

const completed: Redemption = {
  transaction_id: 'tx-9',
  provider: 'telesend',
  state: 'completed',
  amount: null,
  customer_name: null,
  code_masked: 'TS****99',
  provider_reference: 'TB-123',
  message: 'Redeemed (ETB 500.00 transferred to the merchant): hand over the goods',
  receipt: null,
};

/** A fake backend whose answers the test releases by hand, in any order. */
function fakeBackend() {
  const claims: { code: string; amount: string | null; d: Deferred<ClaimResult> }[] = [];
  const redeems: { code: string; verification: string | null; d: Deferred<Redemption> }[] = [];
  const cancels: { code: string; d: Deferred<boolean> }[] = [];
  const backend: GiftBackend = {
    claim(code, amount) {
      const d = deferred<ClaimResult>();
      claims.push({ code, amount, d });
      return d.promise;
    },
    redeem(code, verification) {
      const d = deferred<Redemption>();
      redeems.push({ code, verification, d });
      return d.promise;
    },
    cancel(code) {
      const d = deferred<boolean>();
      cancels.push({ code, d });
      return d.promise;
    },
  };
  return { backend, claims, redeems, cancels };
}

function newFlow() {
  const fake = fakeBackend();
  let settled = 0;
  const flow = new Telesend(fake.backend, undefined, () => settled++);
  return { ...fake, flow, settled: () => settled };
}

/** A flow in the SMS step for voucher GIFT99 (optionally for an amount). */
async function verifyingFlow(amount: string | null = null) {
  const f = newFlow();
  f.flow.inputCode('GIFT99');
  if (amount !== null) f.flow.inputAmount(amount);
  const p = f.flow.send();
  f.claims[0]!.d.resolve(claimed(amount, '123456'));
  await p;
  expect(f.flow.state.kind).toBe('verify');
  return f;
}

const allKinds: GiftKind[] = ['claim', 'sending', 'verify', 'redeeming', 'success', 'unknown'];
const allFields: (Field | null)[] = ['code', 'amount', 'verification', null];

describe('keys', () => {
  it('Enter in the claim step only ever sends the SMS, from either field', () => {
    expect(giftKeyAction({ key: 'Enter', repeat: false, field: 'code', kind: 'claim' })).toBe('send');
    expect(giftKeyAction({ key: 'Enter', repeat: false, field: 'amount', kind: 'claim' })).toBe('send');
    for (const field of allFields) {
      for (const repeat of [true, false]) {
        expect(giftKeyAction({ key: 'Enter', repeat, field, kind: 'claim' })).not.toBe('redeem');
        expect(giftKeyAction({ key: 'Enter', repeat, field, kind: 'claim' })).not.toBe('anonymous');
      }
    }
  });

  it('Enter redeems only from the SMS-code field of the SMS step', () => {
    for (const kind of allKinds) {
      for (const field of allFields) {
        const action = giftKeyAction({ key: 'Enter', repeat: false, field, kind });
        expect(action === 'redeem').toBe(kind === 'verify' && field === 'verification');
      }
    }
  });

  it('a held-down key never repeats an action', () => {
    for (const kind of allKinds) {
      for (const key of ['Enter', 'F9', 'F10']) {
        expect(giftKeyAction({ key, repeat: true, field: 'verification', kind })).toBe('swallow');
      }
    }
  });

  it('F9 redeems only in the SMS step, F10 (anonymous) only in the claim step', () => {
    for (const kind of allKinds) {
      expect(giftKeyAction({ key: 'F9', repeat: false, field: null, kind }) === 'redeem').toBe(kind === 'verify');
      expect(giftKeyAction({ key: 'F10', repeat: false, field: null, kind }) === 'anonymous').toBe(kind === 'claim');
    }
  });

  it('Esc clears, cancels, acknowledges, but never interrupts a redemption', () => {
    const esc = (kind: GiftKind) => giftKeyAction({ key: 'Escape', repeat: false, field: null, kind });
    expect(esc('claim')).toBe('clear');
    expect(esc('sending')).toBe('cancel');
    expect(esc('verify')).toBe('cancel');
    expect(esc('redeeming')).toBe('swallow');
    expect(esc('success')).toBe('next');
    expect(esc('unknown')).toBe('next');
  });

  it('Enter after an outcome starts the next customer', () => {
    expect(giftKeyAction({ key: 'Enter', repeat: false, field: 'code', kind: 'success' })).toBe('next');
    expect(giftKeyAction({ key: 'Enter', repeat: false, field: null, kind: 'unknown' })).toBe('next');
  });
});

describe('claim step', () => {
  it('Enter (send) claims and never redeems, even for a scanned code with whitespace', async () => {
    const f = newFlow();
    f.flow.inputCode('  GIFT99\n');
    const p = f.flow.send();
    expect(f.flow.snapshot.step).toBe('sending');
    expect(f.claims).toEqual([expect.objectContaining({ code: 'GIFT99', amount: null })]);
    f.claims[0]!.d.resolve(claimed());
    await p;
    expect(f.redeems).toHaveLength(0);
    expect(f.flow.snapshot).toMatchObject({ step: 'verify', focus: 'verification', verificationText: '' });
  });

  it('sends a partial amount as typed, trimmed', async () => {
    const f = newFlow();
    f.flow.inputCode('GIFT99');
    f.flow.inputAmount(' 200.50 ');
    void f.flow.send();
    expect(f.claims[0]).toMatchObject({ code: 'GIFT99', amount: '200.50' });
  });

  it('an empty code makes no call', async () => {
    const f = newFlow();
    f.flow.inputCode('   ');
    expect(await f.flow.send()).toBe(false);
    expect(await f.flow.redeemAnonymous()).toBe(false);
    expect(f.claims).toHaveLength(0);
    expect(f.redeems).toHaveLength(0);
  });

  it('a second send while the first is on its way makes no second call', async () => {
    const f = newFlow();
    f.flow.inputCode('GIFT99');
    void f.flow.send();
    expect(await f.flow.send()).toBe(false);
    expect(f.claims).toHaveLength(1);
  });

  it.each(['amount_above_remaining', 'invalid_amount'])('%s keeps both fields and refocuses the amount', async (code) => {
    const f = newFlow();
    f.flow.inputCode('GIFT99');
    f.flow.inputAmount('9000');
    const before = f.flow.snapshot.focusSeq;
    const p = f.flow.send();
    f.claims[0]!.d.reject({ code, message: 'Only ETB 500.00 is left on this voucher' });
    await p;
    expect(f.flow.snapshot).toMatchObject({
      step: 'claim',
      codeText: 'GIFT99',
      amountText: '9000',
      focus: 'amount',
      error: { code, message: 'Only ETB 500.00 is left on this voucher' },
    });
    expect(f.flow.snapshot.focusSeq).toBeGreaterThan(before);
  });

  it('other claim errors show the message verbatim and stay in the claim step', async () => {
    const f = newFlow();
    f.flow.inputCode('GIFT99');
    const p = f.flow.send();
    f.claims[0]!.d.reject({ code: 'expired', message: 'This gift voucher expired on 1 May' });
    await p;
    expect(f.flow.snapshot).toMatchObject({
      step: 'claim',
      codeText: 'GIFT99',
      focus: 'code',
      error: { code: 'expired', message: 'This gift voucher expired on 1 May' },
    });
  });

  it('editing the code removes an error about the old code; an unchanged code keeps it', async () => {
    const f = newFlow();
    f.flow.inputCode('GIFT99');
    const p = f.flow.send();
    f.claims[0]!.d.reject({ code: 'not_found', message: 'No such voucher' });
    await p;
    f.flow.inputCode('GIFT99 ');
    expect(f.flow.snapshot.error).not.toBeNull();
    f.flow.inputCode('GIFT98');
    expect(f.flow.snapshot.error).toBeNull();
  });

  it('Esc empties both fields', () => {
    const f = newFlow();
    f.flow.inputCode('GIFT99');
    f.flow.inputAmount('100');
    expect(f.flow.clear()).toBe(true);
    expect(f.flow.snapshot).toMatchObject({ step: 'claim', codeText: '', amountText: '', focus: 'code' });
  });
});

describe('SMS step', () => {
  it('redeems with the typed SMS code, spaces removed', async () => {
    const f = await verifyingFlow();
    f.flow.inputVerification('123 456');
    void f.flow.redeem();
    expect(f.redeems).toEqual([expect.objectContaining({ code: 'GIFT99', verification: '123456' })]);
  });

  it('an empty SMS code cannot be redeemed', async () => {
    const f = await verifyingFlow();
    expect(f.flow.canRedeem).toBe(false);
    f.flow.inputVerification('  ');
    expect(await f.flow.redeem()).toBe(false);
    expect(f.redeems).toHaveLength(0);
  });

  it('double submit (Enter + F9, double click) calls redeem exactly once', async () => {
    const f = await verifyingFlow();
    f.flow.inputVerification('123456');
    const first = f.flow.redeem();
    const second = f.flow.redeem();
    expect(f.flow.canRedeem).toBe(false);
    for (let i = 0; i < 3; i++) expect(await f.flow.redeem()).toBe(false);
    expect(await second).toBe(false);
    expect(f.redeems).toHaveLength(1);
    f.redeems[0]!.d.resolve(completed);
    expect(await first).toBe(true);
    expect(f.flow.snapshot.step).toBe('done');
    expect(await f.flow.redeem()).toBe(false);
    expect(f.redeems).toHaveLength(1);
    expect(f.settled()).toBe(1);
  });

  it.each(['wrong_verification_code', 'invalid_verification_code'])(
    '%s keeps the SMS step, clears the SMS field and refocuses it, every time',
    async (code) => {
      const f = await verifyingFlow('200');
      for (let attempt = 0; attempt < 4; attempt++) {
        f.flow.inputVerification('111111');
        const before = f.flow.snapshot.focusSeq;
        const p = f.flow.redeem();
        f.redeems[attempt]!.d.reject({ code, message: 'Wrong SMS code: ask the customer to read it again' });
        await p;
        expect(f.flow.snapshot).toMatchObject({
          step: 'verify',
          verificationText: '',
          focus: 'verification',
          error: { code, message: 'Wrong SMS code: ask the customer to read it again' },
        });
        expect(f.flow.snapshot.focusSeq).toBeGreaterThan(before);
        expect(f.flow.state).toMatchObject({ kind: 'verify', code: 'GIFT99', amount: '200' });
      }
      expect(f.redeems).toHaveLength(4);
      // The cashier can still get it right.
      f.flow.inputVerification('123456');
      const p = f.flow.redeem();
      f.redeems[4]!.d.resolve(completed);
      await p;
      expect(f.flow.state.kind).toBe('success');
    },
  );

  it.each(['verification_code_missing', 'no_claim_started'])('%s goes back to the claim step, code kept', async (code) => {
    const f = await verifyingFlow();
    f.flow.inputVerification('123456');
    const p = f.flow.redeem();
    f.redeems[0]!.d.reject({ code, message: 'Send the customer an SMS code first' });
    await p;
    expect(f.flow.snapshot).toMatchObject({
      step: 'claim',
      codeText: 'GIFT99',
      verificationText: '',
      focus: 'code',
      hint: SEND_SMS_HINT,
      error: { code, message: 'Send the customer an SMS code first' },
    });
    // One Enter now sends the SMS code again.
    void f.flow.send();
    expect(f.claims).toHaveLength(2);
  });

  it('other redeem errors show the message and return to the claim step', async () => {
    const f = await verifyingFlow();
    f.flow.inputVerification('123456');
    const p = f.flow.redeem();
    f.redeems[0]!.d.reject({ code: 'already_redeemed', message: 'This gift voucher was already used' });
    await p;
    expect(f.flow.snapshot).toMatchObject({
      step: 'claim',
      hint: null,
      error: { code: 'already_redeemed', message: 'This gift voucher was already used' },
    });
    expect(f.settled()).toBe(1);
  });

  it('an unknown outcome is never shown as success', async () => {
    const f = await verifyingFlow();
    f.flow.inputVerification('123456');
    const p = f.flow.redeem();
    f.redeems[0]!.d.resolve({ ...completed, state: 'unknown', message: 'Telesend did not answer' });
    await p;
    expect(f.flow.snapshot).toMatchObject({ step: 'done', state: { kind: 'unknown' } });
  });

  it('cancel calls telesend_cancel and returns to an empty claim step', async () => {
    const f = await verifyingFlow('200');
    f.flow.inputVerification('12');
    expect(f.flow.cancel()).toBe(true);
    expect(f.cancels.map((c) => c.code)).toEqual(['GIFT99']);
    expect(f.flow.snapshot).toMatchObject({
      step: 'claim',
      codeText: '',
      amountText: '',
      verificationText: '',
      error: null,
      focus: 'code',
    });
    expect(f.redeems).toHaveLength(0);
  });

  it('a failed cancel is reported while the cashier has not moved on', async () => {
    const f = await verifyingFlow();
    f.flow.cancel();
    f.cancels[0]!.d.reject({ code: 'provider_unreachable', message: 'Telesend is not answering' });
    await Promise.resolve();
    await Promise.resolve();
    expect(f.flow.snapshot.error).toEqual({ code: 'provider_unreachable', message: 'Telesend is not answering' });
  });

  it('nothing can cancel or reset a redemption in flight', async () => {
    const f = await verifyingFlow();
    f.flow.inputVerification('123456');
    void f.flow.redeem();
    expect(f.flow.cancel()).toBe(false);
    expect(f.flow.clear()).toBe(false);
    expect(f.flow.reset()).toBe(false);
    expect(await f.flow.resend()).toBe(false);
    expect(f.cancels).toHaveLength(0);
    expect(f.flow.snapshot.step).toBe('redeeming');
  });

  it('resend claims the same voucher and amount again and clears the SMS field', async () => {
    const f = await verifyingFlow('200');
    f.flow.inputVerification('99');
    const p = f.flow.resend();
    expect(f.flow.snapshot.step).toBe('sending');
    expect(f.claims[1]).toMatchObject({ code: 'GIFT99', amount: '200' });
    f.claims[1]!.d.resolve({ ...claimed('200', '654321'), claim_id: 'claim-2' });
    await p;
    expect(f.flow.snapshot).toMatchObject({ step: 'verify', verificationText: '', focus: 'verification' });
    expect(f.flow.state).toMatchObject({ claim: { claim_id: 'claim-2', training_sms_code: '654321' } });
  });
});

describe('anonymous vouchers', () => {
  it('F10 redeems the whole voucher without an SMS code, once', async () => {
    const f = newFlow();
    f.flow.inputCode('ANON42');
    const p = f.flow.redeemAnonymous();
    expect(await f.flow.redeemAnonymous()).toBe(false);
    expect(f.redeems).toEqual([expect.objectContaining({ code: 'ANON42', verification: null })]);
    expect(f.claims).toHaveLength(0);
    f.redeems[0]!.d.resolve(completed);
    await p;
    expect(f.flow.snapshot.step).toBe('done');
  });

  it('refuses while an amount is typed: anonymous means the whole value', async () => {
    const f = newFlow();
    f.flow.inputCode('ANON42');
    f.flow.inputAmount('100');
    expect(await f.flow.redeemAnonymous()).toBe(false);
    expect(f.redeems).toHaveLength(0);
    expect(f.flow.snapshot).toMatchObject({ step: 'claim', focus: 'amount', error: ANONYMOUS_WITH_AMOUNT });
  });

  it('a voucher that is not anonymous tells the cashier to send the SMS code', async () => {
    const f = newFlow();
    f.flow.inputCode('GIFT99');
    const p = f.flow.redeemAnonymous();
    f.redeems[0]!.d.reject({ code: 'verification_code_missing', message: 'This voucher needs the SMS code' });
    await p;
    expect(f.flow.snapshot).toMatchObject({
      step: 'claim',
      codeText: 'GIFT99',
      hint: SEND_SMS_HINT,
      error: { code: 'verification_code_missing' },
    });
  });
});

describe('stale answers', () => {
  it('a claim answer arriving after Cancel is ignored, and the claim is withdrawn', async () => {
    const f = newFlow();
    f.flow.inputCode('GIFT99');
    const p = f.flow.send();
    expect(f.flow.cancel()).toBe(true);
    f.claims[0]!.d.resolve(claimed(null, '123456'));
    await p;
    expect(f.flow.snapshot).toMatchObject({ step: 'claim', codeText: '', error: null });
    expect(f.cancels.map((c) => c.code)).toEqual(['GIFT99', 'GIFT99']);
  });

  it('a claim answer arriving after a tab switch (reset) is ignored', async () => {
    const f = newFlow();
    f.flow.inputCode('GIFT99');
    const p = f.flow.send();
    expect(f.flow.reset()).toBe(true);
    f.claims[0]!.d.resolve(claimed());
    await p;
    expect(f.flow.snapshot.step).toBe('claim');
    expect(f.flow.snapshot.codeText).toBe('');
  });

  it('a claim failure arriving after Cancel is ignored too', async () => {
    const f = newFlow();
    f.flow.inputCode('GIFT99');
    const p = f.flow.send();
    f.flow.cancel();
    f.claims[0]!.d.reject({ code: 'expired', message: 'Expired' });
    await p;
    expect(f.flow.snapshot.error).toBeNull();
  });

  it('an old claim for the same voucher does not replace, or withdraw, the newer one', async () => {
    const f = newFlow();
    f.flow.inputCode('GIFT99');
    const first = f.flow.send();
    f.flow.cancel();
    f.flow.inputCode('GIFT99');
    const second = f.flow.send();
    f.claims[0]!.d.resolve({ ...claimed(), claim_id: 'old' });
    await first;
    expect(f.flow.snapshot.step).toBe('sending');
    // Only the explicit Cancel withdrew anything; the new claim is left alone.
    expect(f.cancels).toHaveLength(1);
    f.claims[1]!.d.resolve({ ...claimed(), claim_id: 'new' });
    await second;
    expect(f.flow.state).toMatchObject({ kind: 'verify', claim: { claim_id: 'new' } });
  });

  it('reset in the SMS step withdraws the claim', async () => {
    const f = await verifyingFlow();
    expect(f.flow.reset()).toBe(true);
    expect(f.cancels.map((c) => c.code)).toEqual(['GIFT99']);
    expect(f.flow.snapshot.step).toBe('claim');
  });
});

describe('after the outcome', () => {
  it('next customer empties every field and focuses the code', async () => {
    const f = await verifyingFlow('200');
    f.flow.inputVerification('123456');
    const p = f.flow.redeem();
    f.redeems[0]!.d.resolve(completed);
    await p;
    // Stray scanner keys on the success panel are ignored.
    f.flow.inputCode('STRAY');
    expect(f.flow.next()).toBe(true);
    expect(f.flow.snapshot).toMatchObject({
      step: 'claim',
      codeText: '',
      amountText: '',
      verificationText: '',
      focus: 'code',
      error: null,
    });
  });

  it('next() does nothing before an outcome', async () => {
    const f = await verifyingFlow();
    expect(f.flow.next()).toBe(false);
    expect(f.flow.snapshot.step).toBe('verify');
  });
});

describe('errorRoute', () => {
  it.each([
    ['wrong_verification_code', 'retype-sms'],
    ['invalid_verification_code', 'retype-sms'],
    ['verification_code_missing', 'send-sms-first'],
    ['no_claim_started', 'send-sms-first'],
    ['amount_above_remaining', 'fix-amount'],
    ['invalid_amount', 'fix-amount'],
    ['already_redeemed', 'claim'],
    ['telebirr_error', 'claim'],
    ['in_flight', 'claim'],
  ])('%s → %s', (code, route) => {
    expect(errorRoute(code)).toBe(route);
  });
});
