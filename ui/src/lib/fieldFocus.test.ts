import { describe, expect, it } from 'vitest';
import { FieldFocus, type FocusField } from './fieldFocus';

class FakeInput implements FocusField {
  isConnected = true;
  constructor(
    private readonly doc: FakeDocument,
    public value = '',
  ) {}
  focus(): void {
    this.doc.activeElement = this;
  }
}

class FakeDocument {
  body = { tag: 'body' };
  activeElement: unknown = this.body;
}

type F = 'code' | 'amount' | 'verification';

function setup(opts: { blocked?: boolean; requested?: F } = {}) {
  const doc = new FakeDocument();
  const els: Partial<Record<F, FakeInput>> = { code: new FakeInput(doc), amount: new FakeInput(doc) };
  const state = { blocked: opts.blocked ?? false, requested: opts.requested ?? ('code' as F) };
  const queued: (() => void)[] = [];
  const focus = new FieldFocus<F, FakeInput>(
    () => els,
    () => state.blocked,
    () => state.requested,
    doc,
    (run) => queued.push(run),
  );
  const flush = () => queued.splice(0).forEach((run) => run());
  return { doc, els, state, focus, flush };
}

describe('FieldFocus', () => {
  it('names the field an event came from, and nothing else', () => {
    const { els, focus } = setup();
    expect(focus.fieldOf(els.amount!)).toBe('amount');
    expect(focus.fieldOf(els.code!)).toBe('code');
    expect(focus.fieldOf(null)).toBeNull();
    expect(focus.fieldOf(new FakeInput(new FakeDocument()))).toBeNull();
  });

  it('puts the keyboard on the requested field unless a dialog holds it', () => {
    const { doc, els, state, focus } = setup({ requested: 'amount' });
    focus.focusRequested();
    expect(doc.activeElement).toBe(els.amount);

    state.requested = 'code';
    state.blocked = true;
    focus.focusRequested();
    expect(doc.activeElement).toBe(els.amount);
  });

  it('does not focus a field that is not on the page', () => {
    const { doc, els, state, focus } = setup();
    state.requested = 'verification';
    focus.focusRequested();
    expect(doc.activeElement).toBe(doc.body);
    els.code!.isConnected = false;
    state.requested = 'code';
    focus.focusRequested();
    expect(doc.activeElement).toBe(doc.body);
  });

  it('returns focus that fell to the background to where the cashier last typed', () => {
    const { doc, els, focus, flush } = setup({ requested: 'code' });
    els.amount!.focus();
    focus.onFocusIn({ target: els.amount! });
    doc.activeElement = doc.body; // a click on the background
    focus.onFocusOut();
    expect(doc.activeElement).toBe(doc.body); // only once focusout has settled
    flush();
    expect(doc.activeElement).toBe(els.amount);
  });

  it('falls back to the requested field when the last one is gone', () => {
    const { doc, els, focus, flush } = setup({ requested: 'code' });
    focus.onFocusIn({ target: els.amount! });
    els.amount!.isConnected = false;
    doc.activeElement = null;
    focus.onFocusOut();
    flush();
    expect(doc.activeElement).toBe(els.code);
  });

  it('leaves focus alone when it moved to something else, or a dialog opened', () => {
    const { doc, els, state, focus, flush } = setup();
    focus.onFocusIn({ target: els.amount! });
    const button = { tag: 'button' };
    doc.activeElement = button;
    focus.onFocusOut();
    flush();
    expect(doc.activeElement).toBe(button);

    doc.activeElement = doc.body;
    state.blocked = true;
    focus.onFocusOut();
    flush();
    expect(doc.activeElement).toBe(doc.body);
  });

  it('ignores focus on things that are not its fields', () => {
    const { doc, els, focus, flush } = setup({ requested: 'code' });
    focus.onFocusIn({ target: new FakeInput(new FakeDocument()) });
    doc.activeElement = doc.body;
    focus.onFocusOut();
    flush();
    expect(doc.activeElement).toBe(els.code);
  });

  it('hands over the live text of the present fields, in tab order', () => {
    const { els, focus } = setup();
    els.code!.value = 'TS-GIFT-1000';
    els.amount!.value = '400';
    const seen: [F, string][] = [];
    focus.sync((field, text) => seen.push([field, text]));
    expect(seen).toEqual([
      ['code', 'TS-GIFT-1000'],
      ['amount', '400'],
    ]);
    els.amount!.isConnected = false;
    seen.length = 0;
    focus.sync((field, text) => seen.push([field, text]));
    expect(seen).toEqual([['code', 'TS-GIFT-1000']]);
  });
});
