import { describe, expect, it } from 'vitest';
import type { Redemption, Validation } from '../types';
import {
  Cashier,
  canRedeem,
  keyAction,
  shouldValidate,
  type CashierState,
  type StateKind,
  type VoucherBackend,
} from './cashier';

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

const valid = (code = 'ABC123'): Validation => ({
  code_masked: `${code.slice(0, 2)}****`,
  valid: true,
  amount: { minor: 75000, currency: 'KES', display: 'KES 750.00' },
  customer_name: 'Wanjiku Kamau',
  reasons: [],
});

const invalid: Validation = {
  code_masked: 'XX****',
  valid: false,
  amount: null,
  customer_name: null,
  reasons: [{ code: 'expired', message: 'This voucher expired on 1 March.' }],
};

const completed: Redemption = {
  transaction_id: 'tx-1',
  provider: 'pesavoucher',
  state: 'completed',
  amount: { minor: 75000, currency: 'KES', display: 'KES 750.00' },
  customer_name: 'Wanjiku Kamau',
  code_masked: 'AB****',
  provider_reference: 'PV-9',
  message: 'Redeemed',
  receipt: null,
};

/** A fake backend whose answers the test releases by hand, in any order. */
function fakeBackend() {
  const validations: { code: string; d: Deferred<Validation> }[] = [];
  const redemptions: { code: string; provider: string; d: Deferred<Redemption> }[] = [];
  const backend: VoucherBackend = {
    validate(_provider, code) {
      const d = deferred<Validation>();
      validations.push({ code, d });
      return d.promise;
    },
    redeem(provider, code) {
      const d = deferred<Redemption>();
      redemptions.push({ code, provider, d });
      return d.promise;
    },
  };
  return { backend, validations, redemptions };
}

/** A cashier whose code ABC123 has validated as valid. */
async function validCashier() {
  const fake = fakeBackend();
  let settled = 0;
  const cashier = new Cashier(fake.backend, 'pesavoucher', undefined, () => settled++);
  cashier.input('ABC123');
  const pending = cashier.validate('enter');
  fake.validations[0]!.d.resolve(valid());
  await pending;
  expect(cashier.state.kind).toBe('valid');
  return { ...fake, cashier, settled: () => settled };
}

describe('Enter never redeems', () => {
  const kinds: StateKind[] = ['idle', 'checking', 'valid', 'invalid', 'error', 'redeeming', 'success', 'unknown'];

  it.each(kinds)('keyAction maps Enter to something other than redeem in state %s', (kind) => {
    for (const inCodeField of [true, false]) {
      for (const repeat of [true, false]) {
        expect(keyAction({ key: 'Enter', repeat, inCodeField, kind })).not.toBe('redeem');
      }
    }
  });

  it('Enter in the code field of a valid voucher only validates (and the same code is not re-sent)', async () => {
    const { cashier, validations, redemptions } = await validCashier();
    expect(keyAction({ key: 'Enter', repeat: false, inCodeField: true, kind: cashier.state.kind })).toBe('validate');
    await cashier.validate('enter');
    expect(redemptions).toHaveLength(0);
    expect(validations).toHaveLength(1);
    expect(cashier.state.kind).toBe('valid');
  });

  it('Enter after a success starts the next customer', () => {
    expect(keyAction({ key: 'Enter', repeat: false, inCodeField: true, kind: 'success' })).toBe('next');
    expect(keyAction({ key: 'Escape', repeat: false, inCodeField: true, kind: 'unknown' })).toBe('next');
  });

  it('F9 maps to redeem, but a held-down F9 does not', () => {
    expect(keyAction({ key: 'F9', repeat: false, inCodeField: false, kind: 'valid' })).toBe('redeem');
    expect(keyAction({ key: 'F9', repeat: true, inCodeField: false, kind: 'valid' })).toBe('swallow');
  });
});

describe('redeem guard', () => {
  it('two redeem attempts in the same tick make exactly one backend call', async () => {
    const { cashier, redemptions } = await validCashier();
    const first = cashier.redeem();
    const second = cashier.redeem();
    expect(redemptions).toHaveLength(1);
    expect(await second).toBe(false);
    redemptions[0]!.d.resolve(completed);
    expect(await first).toBe(true);
    expect(cashier.state.kind).toBe('success');
    // And once it succeeded, the voucher cannot be redeemed again from this screen.
    expect(await cashier.redeem()).toBe(false);
    expect(redemptions).toHaveLength(1);
  });

  it('sends the validated code to the selected provider', async () => {
    const { cashier, redemptions } = await validCashier();
    void cashier.redeem();
    expect(redemptions[0]).toMatchObject({ code: 'ABC123', provider: 'pesavoucher' });
  });

  it('stays blocked while in flight, even after more clicks', async () => {
    const { cashier, redemptions } = await validCashier();
    void cashier.redeem();
    for (let i = 0; i < 5; i++) await cashier.redeem();
    expect(redemptions).toHaveLength(1);
    expect(cashier.snapshot.redeemInFlight).toBe(true);
    expect(cashier.canRedeem).toBe(false);
  });

  it('a declined redemption shows as an error with the backend message and can be retried only after re-validation', async () => {
    const { cashier, redemptions, settled } = await validCashier();
    const p = cashier.redeem();
    redemptions[0]!.d.reject({ code: 'already_redeemed', message: 'This voucher was already redeemed.' });
    await p;
    expect(cashier.state).toMatchObject({
      kind: 'error',
      during: 'redeem',
      error: { code: 'already_redeemed', message: 'This voucher was already redeemed.' },
    });
    expect(cashier.canRedeem).toBe(false);
    expect(settled()).toBe(1);
  });

  it('an "unknown" outcome lands in the unknown state, never success', async () => {
    const { cashier, redemptions } = await validCashier();
    const p = cashier.redeem();
    redemptions[0]!.d.resolve({ ...completed, state: 'unknown', message: 'Timed out' });
    await p;
    expect(cashier.state.kind).toBe('unknown');
  });

  it('refuses to clear the field mid-redemption', async () => {
    const { cashier } = await validCashier();
    void cashier.redeem();
    expect(cashier.clear()).toBe(false);
    cashier.input('SOMETHING ELSE');
    expect(cashier.text).toBe('ABC123');
    expect(cashier.state.kind).toBe('redeeming');
  });
});

describe('redeem is disabled unless the current code is valid', () => {
  const v = valid();
  const cases: [string, CashierState, string, boolean][] = [
    ['idle', { kind: 'idle' }, 'ABC123', false],
    ['checking', { kind: 'checking', code: 'ABC123' }, 'ABC123', false],
    ['invalid', { kind: 'invalid', code: 'ABC123', validation: invalid }, 'ABC123', false],
    [
      'error',
      { kind: 'error', code: 'ABC123', error: { code: 'x', message: 'y' }, during: 'validate' },
      'ABC123',
      false,
    ],
    ['redeeming', { kind: 'redeeming', code: 'ABC123', validation: v }, 'ABC123', false],
    ['success', { kind: 'success', code: 'ABC123', redemption: completed }, 'ABC123', false],
    ['valid but field edited since', { kind: 'valid', code: 'ABC123', validation: v }, 'ABC1234', false],
    ['valid with an empty field', { kind: 'valid', code: 'ABC123', validation: v }, '', false],
  ];

  it.each(cases)('%s', (_label, state, code, expected) => {
    expect(canRedeem(state, code, false)).toBe(expected);
  });

  it('valid and matching, but another redeem in flight', () => {
    expect(canRedeem({ kind: 'valid', code: 'ABC123', validation: v }, 'ABC123', true)).toBe(false);
  });

  it('valid and matching', () => {
    expect(canRedeem({ kind: 'valid', code: 'ABC123', validation: v }, 'ABC123', false)).toBe(true);
  });

  it('a valid state whose payload says not valid is still refused', () => {
    expect(canRedeem({ kind: 'valid', code: 'ABC123', validation: invalid }, 'ABC123', false)).toBe(false);
  });

  it('redeem() on an invalid voucher makes no call', async () => {
    const fake = fakeBackend();
    const cashier = new Cashier(fake.backend, 'pesavoucher');
    cashier.input('BAD');
    const p = cashier.validate('enter');
    fake.validations[0]!.d.resolve(invalid);
    await p;
    expect(cashier.state.kind).toBe('invalid');
    expect(await cashier.redeem()).toBe(false);
    expect(fake.redemptions).toHaveLength(0);
  });

  it('editing the code after validation disables redeem', async () => {
    const { cashier, redemptions } = await validCashier();
    cashier.input('ABC1234');
    expect(cashier.state.kind).toBe('idle');
    expect(await cashier.redeem()).toBe(false);
    expect(redemptions).toHaveLength(0);
  });
});

describe('stale validation answers', () => {
  it('an answer for an older code is discarded after the cashier typed a new one', async () => {
    const fake = fakeBackend();
    const cashier = new Cashier(fake.backend, 'pesavoucher');
    cashier.input('OLD111');
    const oldCall = cashier.validate('blur');
    cashier.input('NEW222');
    const newCall = cashier.validate('enter');
    expect(fake.validations.map((v) => v.code)).toEqual(['OLD111', 'NEW222']);

    // The new answer arrives first, then the old one straggles in.
    fake.validations[1]!.d.resolve(invalid);
    await newCall;
    fake.validations[0]!.d.resolve(valid('OLD111'));
    await oldCall;

    expect(cashier.state).toMatchObject({ kind: 'invalid', code: 'NEW222' });
    expect(cashier.canRedeem).toBe(false);
  });

  it('an old answer arriving after the field was cleared does not resurrect it', async () => {
    const fake = fakeBackend();
    const cashier = new Cashier(fake.backend, 'pesavoucher');
    cashier.input('ABC123');
    const call = cashier.validate('paste');
    cashier.clear();
    fake.validations[0]!.d.resolve(valid());
    await call;
    expect(cashier.state.kind).toBe('idle');
    expect(cashier.text).toBe('');
  });

  it('an old failure is discarded too', async () => {
    const fake = fakeBackend();
    const cashier = new Cashier(fake.backend, 'pesavoucher');
    cashier.input('ABC123');
    const call = cashier.validate('enter');
    cashier.input('ABC12');
    fake.validations[0]!.d.reject('network down');
    await call;
    expect(cashier.state.kind).toBe('idle');
  });

  it('typing away and back to the same code still discards the first answer', async () => {
    const fake = fakeBackend();
    const cashier = new Cashier(fake.backend, 'pesavoucher');
    cashier.input('ABC123');
    const call = cashier.validate('enter');
    cashier.input('ABC1234');
    cashier.input('ABC123');
    fake.validations[0]!.d.resolve(valid());
    await call;
    expect(cashier.state.kind).toBe('idle');
    expect(cashier.canRedeem).toBe(false);
  });
});

describe('the same unchanged code is not validated twice', () => {
  it('Enter, blur and paste on the same code make one call', async () => {
    const fake = fakeBackend();
    const cashier = new Cashier(fake.backend, 'pesavoucher');
    cashier.input('ABC123');
    const first = cashier.validate('paste');
    await cashier.validate('enter'); // while still checking
    fake.validations[0]!.d.resolve(valid());
    await first;
    await cashier.validate('blur');
    await cashier.validate('enter');
    expect(fake.validations).toHaveLength(1);
  });

  it('surrounding whitespace from a scanner does not count as a change', async () => {
    const { cashier, validations } = await validCashier();
    cashier.input('  ABC123\n');
    expect(cashier.state.kind).toBe('valid');
    await cashier.validate('enter');
    expect(validations).toHaveLength(1);
    expect(cashier.canRedeem).toBe(true);
  });

  it('an empty field is never validated', async () => {
    const fake = fakeBackend();
    const cashier = new Cashier(fake.backend, 'pesavoucher');
    cashier.input('   ');
    await cashier.validate('enter');
    await cashier.validate('blur');
    expect(fake.validations).toHaveLength(0);
    expect(cashier.state.kind).toBe('idle');
  });

  it('a failed call may be retried with Enter, but not by blur or paste', () => {
    const state: CashierState = {
      kind: 'error',
      code: 'ABC123',
      error: { code: 'network', message: 'No connection' },
      during: 'validate',
    };
    expect(shouldValidate(state, 'ABC123', 'blur')).toBe(false);
    expect(shouldValidate(state, 'ABC123', 'paste')).toBe(false);
    expect(shouldValidate(state, 'ABC123', 'enter')).toBe(true);
  });

  it('a changed code is validated', async () => {
    const { cashier, validations } = await validCashier();
    cashier.input('XYZ999');
    await Promise.resolve();
    void cashier.validate('blur');
    expect(validations.map((v) => v.code)).toEqual(['ABC123', 'XYZ999']);
  });
});

describe('outcomes and clearing', () => {
  it('a failing validate call becomes the error state with the normalised message', async () => {
    const fake = fakeBackend();
    const cashier = new Cashier(fake.backend, 'pesavoucher');
    cashier.input('ABC123');
    const p = cashier.validate('enter');
    fake.validations[0]!.d.reject('PesaVoucher is not answering');
    await p;
    expect(cashier.state).toMatchObject({
      kind: 'error',
      during: 'validate',
      error: { code: 'internal', message: 'PesaVoucher is not answering' },
    });
  });

  it('shows checking while the answer is pending', () => {
    const fake = fakeBackend();
    const cashier = new Cashier(fake.backend, 'pesavoucher');
    cashier.input('ABC123');
    void cashier.validate('enter');
    expect(cashier.state).toEqual({ kind: 'checking', code: 'ABC123' });
  });

  it('Esc in idle or invalid clears the field', async () => {
    expect(keyAction({ key: 'Escape', repeat: false, inCodeField: true, kind: 'idle' })).toBe('clear');
    expect(keyAction({ key: 'Escape', repeat: false, inCodeField: true, kind: 'invalid' })).toBe('clear');
    const fake = fakeBackend();
    const cashier = new Cashier(fake.backend, 'pesavoucher');
    cashier.input('BAD');
    const p = cashier.validate('enter');
    fake.validations[0]!.d.resolve(invalid);
    await p;
    expect(cashier.clear()).toBe(true);
    expect(cashier.snapshot).toMatchObject({ text: '', state: { kind: 'idle' } });
  });

  it('next customer after success empties the field and allows a new scan', async () => {
    const { cashier, redemptions, validations } = await validCashier();
    const p = cashier.redeem();
    redemptions[0]!.d.resolve(completed);
    await p;
    // The field is frozen on the success panel: stray scanner keys are ignored.
    cashier.input('STRAY');
    expect(cashier.text).toBe('ABC123');
    expect(cashier.next()).toBe(true);
    expect(cashier.snapshot).toMatchObject({ text: '', state: { kind: 'idle' } });
    cashier.input('ABC123');
    void cashier.validate('enter');
    expect(validations).toHaveLength(2);
  });

  it('next() does nothing outside success/unknown', async () => {
    const { cashier } = await validCashier();
    expect(cashier.next()).toBe(false);
    expect(cashier.state.kind).toBe('valid');
  });

  it('switching provider resets and drops any pending answer', async () => {
    const fake = fakeBackend();
    const cashier = new Cashier(fake.backend, 'pesavoucher');
    cashier.input('ABC123');
    const p = cashier.validate('enter');
    cashier.reset('other');
    fake.validations[0]!.d.resolve(valid());
    await p;
    expect(cashier.state.kind).toBe('idle');
    expect(cashier.provider).toBe('other');
  });

  it('notifies listeners on every change', async () => {
    const fake = fakeBackend();
    const seen: string[] = [];
    const cashier = new Cashier(fake.backend, 'pesavoucher', (s) => seen.push(s.state.kind));
    cashier.input('ABC123');
    const p = cashier.validate('enter');
    fake.validations[0]!.d.resolve(valid());
    await p;
    expect(seen).toEqual(['idle', 'checking', 'valid']);
  });
});
