import { describe, expect, it } from 'vitest';
import type { CheckoutStarted, CheckoutStatus, PesapalCheckoutInput, Redemption } from '../types';
import {
  FIELD_ORDER,
  MIN_POLL_MS,
  PAYMENT_FAILED,
  RETRY_MS,
  STOPPED_NOTE,
  Pesapal,
  buildInput,
  canCheckoutForm,
  errorField,
  ipnStatusText,
  paymentFacts,
  pesapalKeyAction,
  qrLayout,
  qrPixels,
  splitName,
  type Clock,
  type PesapalBackend,
  type PpField,
  type PpKind,
} from './pesapal';

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

/** Lets every promise chain that can move, move (sleeps resolve at once). */
const flush = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

const KES = (minor: number) => ({ minor, currency: 'KES', display: `KES ${(minor / 100).toFixed(2)}` });

const started: CheckoutStarted = {
  transaction_id: 'tx-1',
  order_tracking_id: 'b945e4af-80a5-4ec1-8706-e03f8332fb04',
  redirect_url: 'https://pay.pesapal.com/iframe/PesapalIframe3/Index?OrderTrackingId=b945',
  amount: KES(150000),
  qr: { width: 21, modules: '0'.repeat(441) },
};

const redemption: Redemption = {
  transaction_id: 'tx-1',
  provider: 'pesapal',
  state: 'completed',
  amount: KES(150000),
  customer_name: 'Jane Doe',
  code_masked: '2547•••••456',
  provider_reference: 'MPX123',
  message: 'KES 1500.00 paid: hand over the goods',
  receipt: { path: '/r/1.txt', printed: true, printer: 'EPSON', print_error: null },
};

const status = (over: Partial<CheckoutStatus>): CheckoutStatus => ({
  transaction_id: 'tx-1',
  state: 'pending',
  status: null,
  description: null,
  payment_method: null,
  confirmation_code: null,
  payment_account: null,
  message: '',
  result: null,
  ...over,
});

const pending = (description: string | null = 'Pending payment') => status({ state: 'pending', status: 'INVALID', description });

const completed = status({
  state: 'completed',
  status: 'COMPLETED',
  description: 'Completed',
  payment_method: 'MpesaKE',
  confirmation_code: 'MPX123',
  payment_account: '2547••••456',
  message: 'Paid',
  result: redemption,
});

const failed = status({
  state: 'failed',
  status: 'FAILED',
  description: 'Failed',
  message: 'The payment FAILED: the card was declined. No money was taken.',
});

/** A fake backend whose answers the test releases by hand, in any order. */
function fakeBackend() {
  const checkouts: { input: PesapalCheckoutInput; d: Deferred<CheckoutStarted> }[] = [];
  const waits: { id: string; d: Deferred<CheckoutStatus> }[] = [];
  const statuses: { id: string; d: Deferred<CheckoutStatus> }[] = [];
  const stops: { id: string; d: Deferred<null> }[] = [];
  const backend: PesapalBackend = {
    checkout(input) {
      const d = deferred<CheckoutStarted>();
      checkouts.push({ input, d });
      return d.promise;
    },
    wait(id) {
      const d = deferred<CheckoutStatus>();
      waits.push({ id, d });
      return d.promise;
    },
    status(id) {
      const d = deferred<CheckoutStatus>();
      statuses.push({ id, d });
      return d.promise;
    },
    stopWaiting(id) {
      const d = deferred<null>();
      stops.push({ id, d });
      return d.promise;
    },
  };
  return { backend, checkouts, waits, statuses, stops };
}

function fakeClock() {
  const sleeps: number[] = [];
  const clock: Clock & { t: number } = {
    t: 0,
    now() {
      return clock.t;
    },
    sleep(ms) {
      sleeps.push(ms);
      return Promise.resolve();
    },
  };
  return { clock, sleeps };
}

function newFlow() {
  const fake = fakeBackend();
  const { clock, sleeps } = fakeClock();
  let settled = 0;
  let emits = 0;
  const flow = new Pesapal(
    fake.backend,
    () => emits++,
    () => settled++,
    clock,
  );
  return { ...fake, clock, sleeps, flow, settled: () => settled, emits: () => emits };
}

/** A flow with a KES 1,500 order for Jane typed in. */
function filledFlow() {
  const f = newFlow();
  f.flow.input('amount', '1500');
  f.flow.input('description', 'Order 42');
  f.flow.input('phone', '0720123456');
  f.flow.input('name', 'Jane Doe');
  return f;
}

/** A flow waiting on tx-1, with its first wait call made. */
async function waitingFlow() {
  const f = filledFlow();
  const p = f.flow.checkout();
  f.checkouts[0]!.d.resolve(started);
  await p;
  expect(f.flow.snapshot.step).toBe('waiting');
  return f;
}

const allKinds: PpKind[] = ['form', 'submitting', 'waiting', 'success', 'unknown'];
const allFields: (PpField | null)[] = [...FIELD_ORDER, null];

describe('keys', () => {
  it('Enter walks the fields and submits only from the last one (name)', () => {
    for (const kind of allKinds) {
      for (const field of allFields) {
        const action = pesapalKeyAction({ key: 'Enter', repeat: false, field, kind });
        expect(action === 'checkout').toBe(kind === 'form' && field === 'name');
      }
    }
    for (const field of ['amount', 'description', 'phone', 'email'] as const) {
      expect(pesapalKeyAction({ key: 'Enter', repeat: false, field, kind: 'form' })).toBe('advance');
    }
  });

  it('F9 submits from anywhere in the form, and only there', () => {
    for (const kind of allKinds) {
      for (const field of allFields) {
        const action = pesapalKeyAction({ key: 'F9', repeat: false, field, kind });
        expect(action === 'checkout').toBe(kind === 'form');
      }
    }
  });

  it('a held-down key never repeats an action', () => {
    for (const kind of allKinds) {
      for (const key of ['Enter', 'F9', 'Escape']) {
        expect(pesapalKeyAction({ key, repeat: true, field: 'name', kind })).toBe('swallow');
      }
    }
  });

  it('Esc clears the form, stops waiting, acknowledges an outcome, never interrupts a submit', () => {
    const esc = (kind: PpKind) => pesapalKeyAction({ key: 'Escape', repeat: false, field: null, kind });
    expect(esc('form')).toBe('clear');
    expect(esc('submitting')).toBe('swallow');
    expect(esc('waiting')).toBe('stop');
    expect(esc('success')).toBe('next');
    expect(esc('unknown')).toBe('next');
  });

  it('Enter while waiting does nothing; other keys are not ours', () => {
    expect(pesapalKeyAction({ key: 'Enter', repeat: false, field: null, kind: 'waiting' })).toBe('swallow');
    expect(pesapalKeyAction({ key: 'Enter', repeat: false, field: null, kind: 'success' })).toBe('next');
    expect(pesapalKeyAction({ key: 'Enter', repeat: false, field: null, kind: 'form' })).toBeNull();
    expect(pesapalKeyAction({ key: 'a', repeat: false, field: 'amount', kind: 'form' })).toBeNull();
  });
});

describe('the form', () => {
  it('Enter walks amount → description → phone → email → name', () => {
    const f = newFlow();
    expect(f.flow.snapshot.focus).toBe('amount');
    const seen: PpField[] = [];
    for (const field of ['amount', 'description', 'phone', 'email'] as const) {
      expect(f.flow.advance(field)).toBe(true);
      seen.push(f.flow.snapshot.focus);
    }
    expect(seen).toEqual(['description', 'phone', 'email', 'name']);
    expect(f.checkouts).toHaveLength(0);
  });

  it('checkout needs amount, description, and phone or email; the name is optional', () => {
    const can = (form: Partial<Record<PpField, string>>) =>
      canCheckoutForm('form', { amount: '', description: '', phone: '', email: '', name: '', ...form }, false);
    expect(can({ amount: '1500', description: 'Order' })).toBe(false);
    expect(can({ amount: '1500', description: 'Order', phone: '  ' })).toBe(false);
    expect(can({ amount: '1500', description: 'Order', phone: '0720123456' })).toBe(true);
    expect(can({ amount: '1500', description: 'Order', email: 'jane@example.com' })).toBe(true);
    expect(can({ description: 'Order', phone: '0720123456' })).toBe(false);
    expect(can({ amount: '1500', phone: '0720123456' })).toBe(false);
    expect(canCheckoutForm('waiting', { amount: '1', description: 'x', phone: '1', email: '', name: '' }, false)).toBe(
      false,
    );
  });

  it('a missing field makes no call and sends the cashier to it', async () => {
    const f = newFlow();
    f.flow.input('amount', '1500');
    f.flow.input('description', 'Order 42');
    expect(await f.flow.checkout()).toBe(false);
    expect(f.checkouts).toHaveLength(0);
    expect(f.flow.snapshot).toMatchObject({ step: 'form', focus: 'phone' });
  });

  it('sends the fields trimmed, blanks as null, and the name split into first and last', () => {
    expect(
      buildInput({ amount: ' 1500 ', description: ' Order 42 ', phone: ' ', email: ' jane@example.com ', name: '' }),
    ).toEqual({
      amount: '1500',
      description: 'Order 42',
      phone: null,
      email: 'jane@example.com',
      first_name: null,
      last_name: null,
    });
    expect(splitName('  Jane   Wanjiru Doe ')).toEqual({ first_name: 'Jane', last_name: 'Wanjiru Doe' });
    expect(splitName('Jane')).toEqual({ first_name: 'Jane', last_name: null });
    const f = filledFlow();
    void f.flow.checkout();
    expect(f.checkouts.map((c) => c.input)).toEqual([
      {
        amount: '1500',
        description: 'Order 42',
        phone: '0720123456',
        email: null,
        first_name: 'Jane',
        last_name: 'Doe',
      },
    ]);
  });

  it('Esc empties every field and focuses the amount', () => {
    const f = filledFlow();
    f.flow.advance('amount');
    expect(f.flow.clear()).toBe(true);
    expect(f.flow.snapshot).toMatchObject({
      step: 'form',
      form: { amount: '', description: '', phone: '', email: '', name: '' },
      focus: 'amount',
      error: null,
    });
  });
});

describe('checkout', () => {
  it('a submit burst (double click, F9 twice, Enter) calls pesapal_checkout exactly once', async () => {
    const f = filledFlow();
    const first = f.flow.checkout();
    const others = [f.flow.checkout(), f.flow.checkout(), f.flow.checkout()];
    expect(f.flow.canCheckout).toBe(false);
    expect(await Promise.all(others)).toEqual([false, false, false]);
    expect(f.checkouts).toHaveLength(1);
    expect(f.flow.snapshot.step).toBe('submitting');
    f.checkouts[0]!.d.resolve(started);
    expect(await first).toBe(true);
    expect(f.flow.snapshot.step).toBe('waiting');
    // Waiting: further presses start nothing either.
    expect(await f.flow.checkout()).toBe(false);
    expect(f.checkouts).toHaveLength(1);
  });

  it('the fields are frozen while the order is on its way', () => {
    const f = filledFlow();
    void f.flow.checkout();
    f.flow.input('amount', '9999');
    expect(f.flow.snapshot.form.amount).toBe('1500');
    expect(f.flow.advance('amount')).toBe(false);
    expect(f.flow.clear()).toBe(false);
  });

  it.each([
    ['invalid_amount', 'amount'],
    ['invalid_description', 'description'],
    ['invalid_phone', 'phone'],
    ['contact_missing', 'phone'],
    ['invalid_email', 'email'],
    ['ipn_missing', 'amount'],
    ['credentials_missing', 'amount'],
  ] as const)('%s keeps the form filled, shows the message verbatim and focuses %s', async (code, field) => {
    const f = filledFlow();
    const p = f.flow.checkout();
    const message = `Backend says ${code}`;
    f.checkouts[0]!.d.reject({ code, message });
    await p;
    expect(f.flow.snapshot).toMatchObject({
      step: 'form',
      form: { amount: '1500', description: 'Order 42', phone: '0720123456', name: 'Jane Doe' },
      focus: field,
      error: { code, message },
      checkoutInFlight: false,
    });
    expect(f.waits).toHaveLength(0);
    // A deliberate second press retries, with one call.
    void f.flow.checkout();
    expect(f.checkouts).toHaveLength(2);
    expect(f.flow.snapshot.error).toBeNull();
  });

  it('editing a field removes the error', async () => {
    const f = filledFlow();
    const p = f.flow.checkout();
    f.checkouts[0]!.d.reject({ code: 'invalid_email', message: 'Not an email address' });
    await p;
    f.flow.input('email', 'jane@example.com');
    expect(f.flow.snapshot.error).toBeNull();
  });

  it('setup errors that no field fixes still focus the top', () => {
    expect(errorField('callback_missing')).toBe('amount');
    expect(errorField('provider_unreachable')).toBe('amount');
    expect(errorField('refused')).toBe('amount');
    expect(errorField('invalid_last_name')).toBe('name');
  });
});

describe('waiting', () => {
  it('polls again only while pending, and stops at the outcome', async () => {
    const f = await waitingFlow();
    expect(f.waits.map((w) => w.id)).toEqual(['tx-1']);
    expect(f.settled()).toBe(1);

    f.clock.t += 20_000;
    f.waits[0]!.d.resolve(pending('Pending payment'));
    await flush();
    expect(f.flow.state).toMatchObject({ kind: 'waiting', status: { description: 'Pending payment' } });
    expect(f.waits).toHaveLength(2);
    // A real long poll took its 20 s: the next call follows at once.
    expect(f.sleeps).toEqual([]);

    f.clock.t += 20_000;
    f.waits[1]!.d.resolve(completed);
    await flush();
    expect(f.flow.snapshot.step).toBe('done');
    expect(f.flow.state).toMatchObject({ kind: 'success', redemption, status: completed });
    expect(f.settled()).toBe(2);
    await flush();
    expect(f.waits).toHaveLength(2);
  });

  it('a wait that answers pending at once is not repeated in a tight loop', async () => {
    const f = await waitingFlow();
    f.clock.t += 200;
    f.waits[0]!.d.resolve(pending());
    await flush();
    expect(f.sleeps).toEqual([MIN_POLL_MS - 200]);
    expect(f.waits).toHaveLength(2);
  });

  it('a failing wait is shown and retried after a pause, then cleared by the next answer', async () => {
    const f = await waitingFlow();
    f.waits[0]!.d.reject({ code: 'provider_unreachable', message: 'Pesapal did not answer' });
    await flush();
    expect(f.flow.state).toMatchObject({
      kind: 'waiting',
      problem: { code: 'provider_unreachable', message: 'Pesapal did not answer' },
    });
    expect(f.sleeps[0]).toBe(RETRY_MS);
    expect(f.waits).toHaveLength(2);
    f.clock.t += 20_000;
    f.waits[1]!.d.resolve(pending());
    await flush();
    expect(f.flow.state).toMatchObject({ kind: 'waiting', problem: null });
  });

  it('failed returns to the same form with the message, and the cashier can start again', async () => {
    const f = await waitingFlow();
    f.waits[0]!.d.resolve(failed);
    await flush();
    expect(f.flow.snapshot).toMatchObject({
      step: 'form',
      form: { amount: '1500', description: 'Order 42', phone: '0720123456', name: 'Jane Doe' },
      error: { code: PAYMENT_FAILED, message: failed.message },
      focus: 'amount',
    });
    expect(f.waits).toHaveLength(1);
    expect(f.settled()).toBe(2);
    void f.flow.checkout();
    expect(f.checkouts).toHaveLength(2);
  });

  it('reversed is a failure too; an empty message still says what happened', async () => {
    const f = await waitingFlow();
    f.waits[0]!.d.resolve(status({ state: 'failed', status: 'REVERSED', message: '' }));
    await flush();
    expect(f.flow.snapshot.error).toEqual({ code: PAYMENT_FAILED, message: expect.stringMatching(/reversed/i) });
  });

  it('unknown, or completed without a completed result, is never shown as success', async () => {
    const a = await waitingFlow();
    a.waits[0]!.d.resolve(status({ state: 'unknown', message: 'Pesapal did not say', result: { ...redemption, state: 'unknown' } }));
    await flush();
    expect(a.flow.state.kind).toBe('unknown');

    const b = await waitingFlow();
    b.waits[0]!.d.resolve({ ...completed, result: { ...redemption, state: 'unknown' } });
    await flush();
    expect(b.flow.state.kind).toBe('unknown');

    const c = await waitingFlow();
    c.waits[0]!.d.resolve({ ...completed, result: null });
    await flush();
    expect(c.flow.state).toMatchObject({
      kind: 'unknown',
      redemption: { transaction_id: 'tx-1', state: 'unknown', amount: started.amount, provider_reference: 'MPX123' },
    });
  });

  it('next customer after an outcome empties the form', async () => {
    const f = await waitingFlow();
    f.waits[0]!.d.resolve(completed);
    await flush();
    expect(f.flow.clear()).toBe(false);
    expect(f.flow.next()).toBe(true);
    expect(f.flow.snapshot).toMatchObject({
      step: 'form',
      form: { amount: '', description: '', phone: '', email: '', name: '' },
      focus: 'amount',
      error: null,
      note: null,
    });
  });
});

describe('stop waiting', () => {
  it('returns to an empty form with the note, closes the window, and stops polling', async () => {
    const f = await waitingFlow();
    expect(f.flow.stop()).toBe(true);
    expect(f.stops.map((s) => s.id)).toEqual(['tx-1']);
    expect(f.flow.snapshot).toMatchObject({
      step: 'form',
      note: STOPPED_NOTE,
      error: null,
      form: { amount: '', description: '', phone: '', email: '', name: '' },
      focus: 'amount',
    });
    expect(f.flow.stop()).toBe(false);
    expect(f.stops).toHaveLength(1);
  });

  it('a late wait answer after Stop is ignored, and no further wait is made', async () => {
    const f = await waitingFlow();
    f.flow.stop();
    const emitted = f.emits();
    const settled = f.settled();
    f.waits[0]!.d.resolve(completed);
    await flush();
    expect(f.flow.snapshot).toMatchObject({ step: 'form', note: STOPPED_NOTE });
    expect(f.emits()).toBe(emitted);
    expect(f.waits).toHaveLength(1);
    // The ledger did change: the recent list refreshes all the same.
    expect(f.settled()).toBe(settled + 1);
  });

  it("the stopped order's late answer never lands on the next order's wait", async () => {
    const f = await waitingFlow();
    f.flow.stop();
    f.flow.input('amount', '200');
    f.flow.input('description', 'Order 43');
    f.flow.input('email', 'amina@example.com');
    const p = f.flow.checkout();
    f.checkouts[1]!.d.resolve({ ...started, transaction_id: 'tx-2' });
    await p;
    expect(f.waits.map((w) => w.id)).toEqual(['tx-1', 'tx-2']);
    f.waits[0]!.d.resolve(completed);
    await flush();
    expect(f.flow.state).toMatchObject({ kind: 'waiting', started: { transaction_id: 'tx-2' } });
    expect(f.waits.map((w) => w.id)).toEqual(['tx-1', 'tx-2']);
  });

  it('a late pending answer or failure after Stop makes no further call either', async () => {
    const f = await waitingFlow();
    f.flow.stop();
    f.waits[0]!.d.reject({ code: 'provider_unreachable', message: 'x' });
    await flush();
    expect(f.waits).toHaveLength(1);
    expect(f.sleeps).toEqual([]);
    expect(f.flow.snapshot.error).toBeNull();
  });

  it('a callback event after Stop calls nothing', async () => {
    const f = await waitingFlow();
    f.flow.stop();
    expect(f.flow.callback({ transaction_id: 'tx-1', url: 'https://till.local/pesapal/callback' })).toBe(false);
    expect(f.statuses).toHaveLength(0);
  });

  it('a refused stop is shown while the cashier has not moved on', async () => {
    const f = await waitingFlow();
    f.flow.stop();
    f.stops[0]!.d.reject({ code: 'internal', message: 'The checkout window would not close' });
    await flush();
    expect(f.flow.snapshot.error).toEqual({ code: 'internal', message: 'The checkout window would not close' });
    expect(f.flow.snapshot.note).toBe(STOPPED_NOTE);
  });

  it('typing the next order removes the note', async () => {
    const f = await waitingFlow();
    f.flow.stop();
    f.flow.input('amount', '200');
    expect(f.flow.snapshot.note).toBeNull();
  });
});

describe('the callback event', () => {
  const callback = { transaction_id: 'tx-1', url: 'https://till.local/pesapal/callback?OrderTrackingId=b945' };

  it('triggers an immediate status call; its final answer ends the wait', async () => {
    const f = await waitingFlow();
    expect(f.flow.callback(callback)).toBe(true);
    expect(f.statuses.map((s) => s.id)).toEqual(['tx-1']);
    f.statuses[0]!.d.resolve(completed);
    await flush();
    expect(f.flow.state.kind).toBe('success');
    // The long poll still out answers late: ignored, and not repeated.
    f.waits[0]!.d.resolve(pending());
    await flush();
    expect(f.flow.state.kind).toBe('success');
    expect(f.waits).toHaveLength(1);
  });

  it('a pending status only updates the line; the long poll carries on', async () => {
    const f = await waitingFlow();
    f.flow.callback(callback);
    f.statuses[0]!.d.resolve(pending('Awaiting confirmation'));
    await flush();
    expect(f.flow.state).toMatchObject({ kind: 'waiting', status: { description: 'Awaiting confirmation' } });
    expect(f.waits).toHaveLength(1);
    f.clock.t += 20_000;
    f.waits[0]!.d.resolve(completed);
    await flush();
    expect(f.flow.state.kind).toBe('success');
  });

  it("another transaction's event, or one outside waiting, calls nothing", async () => {
    const idle = newFlow();
    expect(idle.flow.callback(callback)).toBe(false);
    const f = await waitingFlow();
    expect(f.flow.callback({ ...callback, transaction_id: 'tx-0' })).toBe(false);
    expect(f.statuses).toHaveLength(0);
  });

  it('an event that beats the checkout answer is acted on once waiting starts', async () => {
    const f = filledFlow();
    const p = f.flow.checkout();
    expect(f.flow.callback(callback)).toBe(false);
    expect(f.statuses).toHaveLength(0);
    f.checkouts[0]!.d.resolve(started);
    await p;
    expect(f.statuses.map((s) => s.id)).toEqual(['tx-1']);
  });

  it('a failed status call is left to the long poll', async () => {
    const f = await waitingFlow();
    f.flow.callback(callback);
    f.statuses[0]!.d.reject({ code: 'provider_unreachable', message: 'x' });
    await flush();
    expect(f.flow.state).toMatchObject({ kind: 'waiting', problem: null });
  });
});

describe('leaving the panel', () => {
  it('dispose while waiting closes the window; later answers change nothing', async () => {
    const f = await waitingFlow();
    f.flow.dispose();
    expect(f.stops.map((s) => s.id)).toEqual(['tx-1']);
    const emitted = f.emits();
    f.waits[0]!.d.resolve(pending());
    await flush();
    expect(f.emits()).toBe(emitted);
    expect(f.waits).toHaveLength(1);
    expect(await f.flow.checkout()).toBe(false);
  });

  it('a checkout answer after dispose closes the window it opened and waits for nothing', async () => {
    const f = filledFlow();
    const p = f.flow.checkout();
    f.flow.dispose();
    f.checkouts[0]!.d.resolve(started);
    await p;
    expect(f.stops.map((s) => s.id)).toEqual(['tx-1']);
    expect(f.waits).toHaveLength(0);
  });
});

describe('the QR code', () => {
  /** Every dark cell the layout draws, as "x,y". */
  const darkCells = (runs: { x: number; y: number; w: number }[]) =>
    new Set(runs.flatMap((r) => Array.from({ length: r.w }, (_, i) => `${r.x + i},${r.y}`)));

  it("maps each '1' to a dark cell and each '0' to light, row-major, inside a 4-module quiet zone", () => {
    // 3×3: row 0 "110", row 1 "001", row 2 "101".
    const layout = qrLayout({ width: 3, modules: '110001101' });
    expect(layout).not.toBeNull();
    expect(layout!.size).toBe(11);
    expect(darkCells(layout!.runs)).toEqual(new Set(['4,4', '5,4', '6,5', '4,6', '6,6']));
    // Adjacent dark modules in a row are one rect.
    expect(layout!.runs).toContainEqual({ x: 4, y: 4, w: 2 });
  });

  it('round-trips a larger pattern exactly', () => {
    const width = 25;
    let modules = '';
    for (let i = 0; i < width * width; i++) modules += (i * 7919) % 3 === 0 ? '1' : '0';
    const layout = qrLayout({ width, modules })!;
    const expected = new Set<string>();
    for (let i = 0; i < modules.length; i++) {
      if (modules[i] === '1') expected.add(`${(i % width) + 4},${Math.floor(i / width) + 4}`);
    }
    expect(darkCells(layout.runs)).toEqual(expected);
    expect(layout.runs.every((r) => r.x >= 4 && r.x + r.w <= width + 4 && r.y >= 4 && r.y < width + 4)).toBe(true);
  });

  it('an all-light matrix draws nothing; a malformed one is refused', () => {
    expect(qrLayout({ width: 2, modules: '0000' })).toEqual({ size: 10, runs: [] });
    expect(qrLayout({ width: 3, modules: '11' })).toBeNull();
    expect(qrLayout({ width: 2, modules: '01a0' })).toBeNull();
    expect(qrLayout({ width: 0, modules: '' })).toBeNull();
  });

  it('is drawn at a whole number of pixels per module, near 260 px', () => {
    expect(qrPixels(29)).toBe(261);
    expect(qrPixels(65)).toBe(260);
    expect(qrPixels(185)).toBe(370);
  });
});

describe('text', () => {
  it('payment facts: method, confirmation code and account under their ids', () => {
    expect(paymentFacts(completed)).toEqual([
      { id: 'pp-method', label: 'Paid with', value: 'MpesaKE' },
      { id: 'pp-confirmation', label: 'Confirmation code', value: 'MPX123' },
      { id: 'pp-account', label: 'Account', value: '2547••••456' },
    ]);
    expect(paymentFacts(status({ payment_method: ' ' })).map((f) => f.value)).toEqual(['—', '—', '—']);
  });

  it('IPN status line', () => {
    const entry = {
      ipn_id: 'ipn-1',
      url: 'https://till.example.com/ipn',
      ipn_notification_type_description: 'GET',
      ipn_status_description: 'Active',
      created_date: null,
    };
    expect(ipnStatusText({ chosen: 'ipn-1', entries: [entry] })).toBe('Notifications go to https://till.example.com/ipn');
    expect(ipnStatusText({ chosen: null, entries: [] })).toMatch(/No IPN URL registered/);
    expect(ipnStatusText({ chosen: null, entries: [entry] })).toMatch(/No IPN chosen/);
    expect(ipnStatusText({ chosen: 'gone', entries: [entry] })).toMatch(/not listed/);
  });
});
