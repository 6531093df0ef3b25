import { describe, expect, it } from 'vitest';
import type { GiftPesaInput, GiftPesaSettings, Redemption } from '../types';
import {
  CERTIFICATE_TOO_LARGE,
  FIELD_ORDER,
  GiftPesa,
  MAX_CERTIFICATE_BYTES,
  buildInput,
  canRedeemForm,
  certificateText,
  connectedText,
  errorField,
  giftPesaKeyAction,
  readCertificate,
  repeatWarned,
  tillText,
  type GiftPesaBackend,
  type GpField,
  type GpKind,
} from './giftpesa';

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

const completed: Redemption = {
  transaction_id: 'tx-7',
  provider: 'giftpesa',
  state: 'completed',
  amount: { minor: 100000, currency: 'KES', display: 'KES 1,000.00' },
  customer_name: 'Jane Doe',
  code_masked: '2547•••••456',
  provider_reference: 'RCP-0001',
  message: 'KES 1,000.00 redeemed: hand over the goods',
  receipt: null,
};

const settings = (till: string | null, certificate = true): GiftPesaSettings => ({
  till_number: till,
  certificate_imported: certificate,
});

/** A fake backend whose answers the test releases by hand, in any order. */
function fakeBackend() {
  const redeems: { input: GiftPesaInput; d: Deferred<Redemption> }[] = [];
  const loads: Deferred<GiftPesaSettings>[] = [];
  const backend: GiftPesaBackend = {
    redeem(input) {
      const d = deferred<Redemption>();
      redeems.push({ input, d });
      return d.promise;
    },
    settings() {
      const d = deferred<GiftPesaSettings>();
      loads.push(d);
      return d.promise;
    },
  };
  return { backend, redeems, loads };
}

function newFlow() {
  const fake = fakeBackend();
  let settled = 0;
  let emits = 0;
  const flow = new GiftPesa(
    fake.backend,
    () => emits++,
    () => settled++,
  );
  return { ...fake, flow, settled: () => settled, emits: () => emits };
}

/** A flow with Jane Doe's redemption typed in. */
function filledFlow(remarks = '') {
  const f = newFlow();
  f.flow.input('name', 'Jane Doe');
  f.flow.input('phone', '+254720123456');
  f.flow.input('amount', '1000');
  if (remarks !== '') f.flow.input('remarks', remarks);
  return f;
}

const allKinds: GpKind[] = ['form', 'redeeming', 'success', 'unknown'];
const allFields: (GpField | null)[] = [...FIELD_ORDER, null];

describe('keys', () => {
  it('Enter in name, phone and amount never redeems: it moves to the next field', () => {
    for (const field of ['name', 'phone', 'amount'] as const) {
      for (const kind of allKinds) {
        for (const repeat of [true, false]) {
          expect(giftPesaKeyAction({ key: 'Enter', repeat, field, kind })).not.toBe('redeem');
        }
      }
      expect(giftPesaKeyAction({ key: 'Enter', repeat: false, field, kind: 'form' })).toBe('advance');
    }
  });

  it('Enter redeems only from the remarks field of the form', () => {
    for (const kind of allKinds) {
      for (const field of allFields) {
        const action = giftPesaKeyAction({ key: 'Enter', repeat: false, field, kind });
        expect(action === 'redeem').toBe(kind === 'form' && field === 'remarks');
      }
    }
  });

  it('F9 redeems from anywhere in the form, and only there', () => {
    for (const kind of allKinds) {
      for (const field of allFields) {
        const action = giftPesaKeyAction({ key: 'F9', repeat: false, field, kind });
        expect(action === 'redeem').toBe(kind === 'form');
      }
    }
  });

  it('a held-down key never repeats an action', () => {
    for (const kind of allKinds) {
      for (const key of ['Enter', 'F9']) {
        expect(giftPesaKeyAction({ key, repeat: true, field: 'remarks', kind })).toBe('swallow');
      }
    }
  });

  it('Esc clears the form, acknowledges an outcome, but never interrupts a redemption', () => {
    const esc = (kind: GpKind) => giftPesaKeyAction({ key: 'Escape', repeat: false, field: 'name', kind });
    expect(esc('form')).toBe('clear');
    expect(esc('redeeming')).toBe('swallow');
    expect(esc('success')).toBe('next');
    expect(esc('unknown')).toBe('next');
  });

  it('Enter after an outcome starts the next customer; Enter mid-redemption does nothing', () => {
    expect(giftPesaKeyAction({ key: 'Enter', repeat: false, field: null, kind: 'success' })).toBe('next');
    expect(giftPesaKeyAction({ key: 'Enter', repeat: false, field: 'remarks', kind: 'unknown' })).toBe('next');
    expect(giftPesaKeyAction({ key: 'Enter', repeat: false, field: 'remarks', kind: 'redeeming' })).toBe('swallow');
  });

  it('other keys are not ours', () => {
    expect(giftPesaKeyAction({ key: 'a', repeat: false, field: 'name', kind: 'form' })).toBeNull();
    expect(giftPesaKeyAction({ key: 'Tab', repeat: false, field: 'name', kind: 'form' })).toBeNull();
    expect(giftPesaKeyAction({ key: 'Enter', repeat: false, field: null, kind: 'form' })).toBeNull();
  });
});

describe('the form', () => {
  it('Enter walks name → phone → amount → remarks', () => {
    const f = newFlow();
    expect(f.flow.snapshot.focus).toBe('name');
    const seen: GpField[] = [];
    for (const field of ['name', 'phone', 'amount'] as const) {
      expect(f.flow.advance(field)).toBe(true);
      seen.push(f.flow.snapshot.focus);
    }
    expect(seen).toEqual(['phone', 'amount', 'remarks']);
    expect(f.redeems).toHaveLength(0);
  });

  it('redeem stays disabled until name, phone and amount are all filled', () => {
    const f = newFlow();
    const can = () => canRedeemForm(f.flow.state.kind, f.flow.snapshot.form, f.flow.snapshot.redeemInFlight);
    expect(f.flow.canRedeem).toBe(false);
    f.flow.input('name', 'Jane Doe');
    expect(can()).toBe(false);
    f.flow.input('phone', '0720123456');
    expect(can()).toBe(false);
    f.flow.input('amount', '   ');
    expect(can()).toBe(false);
    f.flow.input('amount', '500');
    expect(can()).toBe(true);
    expect(f.flow.canRedeem).toBe(true);
    // Remarks are optional.
    f.flow.input('remarks', '');
    expect(f.flow.canRedeem).toBe(true);
  });

  it('redeem with a required field missing makes no call and sends the cashier to it', async () => {
    const f = newFlow();
    f.flow.input('name', 'Jane Doe');
    f.flow.input('amount', '1000');
    const before = f.flow.snapshot.focusSeq;
    expect(await f.flow.redeem()).toBe(false);
    expect(f.redeems).toHaveLength(0);
    expect(f.flow.snapshot).toMatchObject({ step: 'form', focus: 'phone' });
    expect(f.flow.snapshot.focusSeq).toBeGreaterThan(before);
  });

  it('sends the fields trimmed, empty remarks as null and no till (the configured one)', async () => {
    const f = newFlow();
    f.flow.input('name', '  Jane Doe ');
    f.flow.input('phone', ' +254720123456 ');
    f.flow.input('amount', ' 1000 ');
    f.flow.input('remarks', '   ');
    void f.flow.redeem();
    expect(f.redeems.map((r) => r.input)).toEqual([
      { name: 'Jane Doe', phone: '+254720123456', amount: '1000', till: null, remarks: null, confirm_repeat: false },
    ]);
  });

  it('sends remarks when typed', () => {
    const f = filledFlow(' Birthday gift ');
    void f.flow.redeem();
    expect(f.redeems[0]!.input.remarks).toBe('Birthday gift');
  });

  it('buildInput refuses an incomplete form', () => {
    expect(buildInput({ name: 'Jane', phone: '', amount: '1', remarks: 'x' })).toBeNull();
    expect(buildInput({ name: ' ', phone: '07', amount: '1', remarks: '' })).toBeNull();
  });

  it('Esc empties every field and focuses the name', () => {
    const f = filledFlow('note');
    f.flow.advance('name');
    expect(f.flow.clear()).toBe(true);
    expect(f.flow.snapshot).toMatchObject({
      step: 'form',
      form: { name: '', phone: '', amount: '', remarks: '' },
      focus: 'name',
      error: null,
    });
  });
});

describe('redeeming', () => {
  it('double submit (double click, F9 twice, Enter twice) calls giftpesa_redeem exactly once', async () => {
    const f = filledFlow();
    const first = f.flow.redeem();
    const second = f.flow.redeem();
    expect(f.flow.canRedeem).toBe(false);
    for (let i = 0; i < 3; i++) expect(await f.flow.redeem()).toBe(false);
    expect(await second).toBe(false);
    expect(f.redeems).toHaveLength(1);
    expect(f.flow.snapshot.step).toBe('redeeming');
    f.redeems[0]!.d.resolve(completed);
    expect(await first).toBe(true);
    expect(f.flow.snapshot.step).toBe('done');
    expect(await f.flow.redeem()).toBe(false);
    expect(f.redeems).toHaveLength(1);
    expect(f.settled()).toBe(1);
  });

  it('the fields are frozen while the redemption is on its way', () => {
    const f = filledFlow();
    void f.flow.redeem();
    f.flow.input('amount', '9999');
    expect(f.flow.snapshot.form.amount).toBe('1000');
    expect(f.flow.advance('name')).toBe(false);
  });

  it('completed shows success; anything else is unknown, never success', async () => {
    const ok = filledFlow();
    const p1 = ok.flow.redeem();
    ok.redeems[0]!.d.resolve(completed);
    await p1;
    expect(ok.flow.snapshot).toMatchObject({ step: 'done', state: { kind: 'success', redemption: completed } });

    const lost = filledFlow();
    const p2 = lost.flow.redeem();
    lost.redeems[0]!.d.resolve({ ...completed, state: 'unknown', provider_reference: null, message: 'No answer' });
    await p2;
    expect(lost.flow.snapshot).toMatchObject({ step: 'done', state: { kind: 'unknown' } });
  });

  it('next customer empties the form and focuses the name', async () => {
    const f = filledFlow('note');
    const p = f.flow.redeem();
    f.redeems[0]!.d.resolve(completed);
    await p;
    // Stray typing on the success panel is ignored.
    f.flow.input('name', 'STRAY');
    expect(f.flow.next()).toBe(true);
    expect(f.flow.snapshot).toMatchObject({
      step: 'form',
      form: { name: '', phone: '', amount: '', remarks: '' },
      focus: 'name',
      error: null,
    });
  });

  it('next() does nothing before an outcome, clear() nothing after one', async () => {
    const f = filledFlow();
    expect(f.flow.next()).toBe(false);
    const p = f.flow.redeem();
    f.redeems[0]!.d.resolve(completed);
    await p;
    expect(f.flow.clear()).toBe(false);
    expect(f.flow.snapshot.step).toBe('done');
  });
});

describe('errors', () => {
  it.each([
    ['invalid_name', 'name'],
    ['invalid_phone', 'phone'],
    ['invalid_amount', 'amount'],
    ['invalid_remarks', 'remarks'],
  ] as const)('%s keeps the form filled and focuses %s', async (code, field) => {
    const f = filledFlow('note');
    f.flow.advance('amount');
    const before = f.flow.snapshot.focusSeq;
    const p = f.flow.redeem();
    f.redeems[0]!.d.reject({ code, message: `The ${field} is wrong` });
    await p;
    expect(f.flow.snapshot).toMatchObject({
      step: 'form',
      form: { name: 'Jane Doe', phone: '+254720123456', amount: '1000', remarks: 'note' },
      focus: field,
      error: { code, message: `The ${field} is wrong` },
      redeemInFlight: false,
    });
    expect(f.flow.snapshot.focusSeq).toBeGreaterThan(before);
    expect(f.settled()).toBe(1);
  });

  it('cents are refused by the backend and the amount is refocused to fix', async () => {
    const f = newFlow();
    f.flow.input('name', 'Jane Doe');
    f.flow.input('phone', '0720123456');
    f.flow.input('amount', '100.50');
    const p = f.flow.redeem();
    f.redeems[0]!.d.reject({ code: 'invalid_amount', message: 'GiftPesa takes whole shillings only' });
    await p;
    expect(f.flow.snapshot).toMatchObject({ focus: 'amount', form: { amount: '100.50' } });
  });

  it.each([
    ['in_flight', 'phone'],
    ['not_found', 'phone'],
    ['bad_request', 'amount'],
    ['just_redeemed', 'amount'],
    ['till_missing', 'name'],
    ['credentials_missing', 'name'],
    ['provider_unreachable', 'name'],
    ['something_new', 'name'],
  ] as const)('%s focuses %s', (code, field) => {
    expect(errorField(code)).toBe(field);
  });

  it('shows the message verbatim; the corrected form retries with one call', async () => {
    const f = filledFlow();
    const p = f.flow.redeem();
    const message = 'A redemption for this phone is already in progress or awaiting a manager';
    f.redeems[0]!.d.reject({ code: 'in_flight', message });
    await p;
    expect(f.flow.snapshot.error).toEqual({ code: 'in_flight', message });
    expect(f.flow.canRedeem).toBe(true);
    const retry = f.flow.redeem();
    expect(f.redeems).toHaveLength(2);
    expect(f.flow.snapshot.error).toBeNull();
    f.redeems[1]!.d.resolve(completed);
    await retry;
    expect(f.flow.state.kind).toBe('success');
  });

  it('after just_redeemed, Redeem again confirms a second purchase of the unchanged form', async () => {
    const f = filledFlow();
    const first = f.flow.redeem();
    expect(f.redeems[0]!.input.confirm_repeat).toBe(false);
    const message = 'KES 1,000.00 was already redeemed for this customer at 10:02. Redeem again only if this is a second purchase';
    f.redeems[0]!.d.reject({ code: 'just_redeemed', message });
    await first;
    expect(f.flow.snapshot).toMatchObject({ focus: 'amount', error: { code: 'just_redeemed', message } });
    expect(repeatWarned(f.flow.snapshot.error)).toBe(true);
    // Whitespace only: the same request, still a confirmation.
    f.flow.input('name', ' Jane Doe ');
    const again = f.flow.redeem();
    expect(f.redeems[1]!.input).toMatchObject({ name: 'Jane Doe', amount: '1000', confirm_repeat: true });
    expect(repeatWarned(f.flow.snapshot.error)).toBe(false);
    f.redeems[1]!.d.resolve(completed);
    await again;
    expect(f.flow.state.kind).toBe('success');
  });

  it('an edit, Esc or another error after just_redeemed withdraws the confirmation', async () => {
    const refused = async (f: ReturnType<typeof filledFlow>, i: number) => {
      const p = f.flow.redeem();
      f.redeems[i]!.d.reject({ code: 'just_redeemed', message: 'already redeemed' });
      await p;
    };
    const edited = filledFlow();
    await refused(edited, 0);
    edited.flow.input('amount', '1500');
    void edited.flow.redeem();
    expect(edited.redeems[1]!.input).toMatchObject({ amount: '1500', confirm_repeat: false });

    const cleared = filledFlow();
    await refused(cleared, 0);
    cleared.flow.clear();
    cleared.flow.input('name', 'Jane Doe');
    cleared.flow.input('phone', '+254720123456');
    cleared.flow.input('amount', '1000');
    void cleared.flow.redeem();
    expect(cleared.redeems[1]!.input.confirm_repeat).toBe(false);

    const other = filledFlow();
    await refused(other, 0);
    const p = other.flow.redeem();
    other.redeems[1]!.d.reject({ code: 'provider_unreachable', message: 'GiftPesa cannot be reached' });
    await p;
    void other.flow.redeem();
    expect(other.redeems[2]!.input.confirm_repeat).toBe(false);
  });

  it('a plain-string rejection still becomes a {code, message} error', async () => {
    const f = filledFlow();
    const p = f.flow.redeem();
    f.redeems[0]!.d.reject('boom');
    await p;
    expect(f.flow.snapshot.error).toEqual({ code: 'internal', message: 'boom' });
  });

  it('editing a field removes the error; retyping the same text keeps it', async () => {
    const f = filledFlow();
    const p = f.flow.redeem();
    f.redeems[0]!.d.reject({ code: 'invalid_phone', message: 'Not a Kenyan mobile number' });
    await p;
    f.flow.input('phone', '+254720123456 ');
    expect(f.flow.snapshot.error).not.toBeNull();
    f.flow.input('phone', '+254720123457');
    expect(f.flow.snapshot.error).toBeNull();
  });

  it('Esc after an error clears the form and the error', async () => {
    const f = filledFlow();
    const p = f.flow.redeem();
    f.redeems[0]!.d.reject({ code: 'forbidden', message: 'Locked to other merchants' });
    await p;
    expect(f.flow.clear()).toBe(true);
    expect(f.flow.snapshot).toMatchObject({ error: null, form: { name: '', phone: '', amount: '' } });
  });
});

describe('stale answers', () => {
  it('Esc cannot abandon a redemption in flight: its outcome is still shown', async () => {
    const f = filledFlow();
    const p = f.flow.redeem();
    expect(f.flow.clear()).toBe(false);
    expect(f.flow.next()).toBe(false);
    f.redeems[0]!.d.resolve(completed);
    await p;
    expect(f.flow.state.kind).toBe('success');
  });

  it('an answer arriving after the panel is gone (tab switch) changes nothing', async () => {
    const f = filledFlow();
    const p = f.flow.redeem();
    f.flow.dispose();
    const emitted = f.emits();
    f.redeems[0]!.d.reject({ code: 'invalid_phone', message: 'Late' });
    await p;
    expect(f.emits()).toBe(emitted);
    expect(f.flow.snapshot.error).toBeNull();
    // The ledger changed all the same: the recent list still refreshes.
    expect(f.settled()).toBe(1);
    // And nothing can be started on a disposed flow.
    expect(await f.flow.redeem()).toBe(false);
    expect(f.redeems).toHaveLength(1);
  });

  it('a settings answer after the panel is gone is ignored', async () => {
    const f = newFlow();
    const p = f.flow.loadSettings();
    f.flow.dispose();
    const emitted = f.emits();
    f.loads[0]!.resolve(settings('123456'));
    await p;
    expect(f.emits()).toBe(emitted);
    expect(f.flow.snapshot.till).toEqual({ kind: 'loading' });
  });

  it('an older settings answer never overwrites a newer one', async () => {
    const f = newFlow();
    const first = f.flow.loadSettings();
    const second = f.flow.loadSettings();
    f.loads[1]!.resolve(settings('654321'));
    await second;
    f.loads[0]!.resolve(settings(null));
    await first;
    expect(f.flow.snapshot.till).toEqual({ kind: 'loaded', settings: settings('654321') });
  });

  it('a failed settings load is shown, then replaced by the next good one', async () => {
    const f = newFlow();
    const p1 = f.flow.loadSettings();
    f.loads[0]!.reject({ code: 'internal', message: 'Cannot read config.toml' });
    await p1;
    expect(f.flow.snapshot.till).toEqual({
      kind: 'error',
      error: { code: 'internal', message: 'Cannot read config.toml' },
    });
    const p2 = f.flow.loadSettings();
    f.loads[1]!.resolve(settings('123456'));
    await p2;
    expect(f.flow.snapshot.till).toMatchObject({ kind: 'loaded' });
  });
});

describe('settings text', () => {
  it('till line', () => {
    expect(tillText(settings('123456'))).toBe('Till 123456');
    expect(tillText(settings(null))).toBe('No till number set');
    expect(tillText(settings('  '))).toBe('No till number set');
  });

  it('certificate line', () => {
    expect(certificateText(settings('1', true), false)).toBe('key.crt imported');
    expect(certificateText(settings('1', false), false)).toBe('No key.crt imported yet');
    expect(certificateText(settings('1', false), true)).toMatch(/training/);
  });

  it('connection check line', () => {
    expect(connectedText(3)).toBe('Connected: 3 merchants');
    expect(connectedText(0)).toBe('Connected: 0 merchants');
    expect(connectedText(1)).toBe('Connected: 1 merchant');
  });

  it('reads a picked key.crt as text, refusing a file too large to be one unread', async () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    expect(await readCertificate({ size: pem.length, text: () => Promise.resolve(pem) })).toBe(pem);
    let read = false;
    const huge = {
      size: MAX_CERTIFICATE_BYTES + 1,
      text: () => {
        read = true;
        return Promise.resolve('');
      },
    };
    await expect(readCertificate(huge)).rejects.toEqual(CERTIFICATE_TOO_LARGE);
    expect(read).toBe(false);
    await expect(
      readCertificate({ size: 10, text: () => Promise.reject(new Error('The file could not be read')) }),
    ).rejects.toEqual({ code: 'internal', message: 'The file could not be read' });
  });
});
