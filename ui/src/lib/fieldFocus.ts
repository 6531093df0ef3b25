// Keyboard focus for a cashier form whose state machine names the field that
// should hold the keyboard (GiftPesa, Pesapal and Telesend panels). A till is
// driven from the keyboard and a scanner: the keyboard must never be lost to
// the page's background, yet an open dialog must keep it.

/** The part of an input element this needs (an HTMLInputElement in the app). */
export interface FocusField {
  readonly isConnected: boolean;
  readonly value: string;
  focus(): void;
}

/** The part of `document` this needs. */
export interface FocusDocument {
  readonly activeElement: unknown;
  readonly body: unknown;
}

export class FieldFocus<F extends string, E extends FocusField = HTMLInputElement> {
  /** Where the cashier last typed: a stray click on the background returns there. */
  #last: E | null = null;

  /**
   * @param fields the form's inputs in tab order (read afresh each time: they
   *   come and go with the form's steps)
   * @param blocked a dialog or overlay owns the keyboard
   * @param requested the field the state machine asks for
   */
  constructor(
    private readonly fields: () => Partial<Record<F, E | undefined>>,
    private readonly blocked: () => boolean,
    private readonly requested: () => F,
    private readonly doc: FocusDocument = document,
    private readonly later: (run: () => void) => void = (run) => setTimeout(run, 0),
  ) {}

  /** Which of the form's fields `target` is, if any. */
  fieldOf(target: EventTarget | FocusField | null): F | null {
    if (target === null) return null;
    for (const [field, el] of Object.entries(this.fields()) as [F, E | undefined][]) {
      if (el !== undefined && el === target) return field;
    }
    return null;
  }

  /** Puts the keyboard where the machine asked (the next field, or a field to fix). */
  readonly focusRequested = (): void => {
    if (this.blocked()) return;
    const el = this.fields()[this.requested()];
    if (el?.isConnected && this.doc.activeElement !== el) el.focus();
  };

  /** For the form's `onfocusin`. */
  readonly onFocusIn = (event: { target: EventTarget | FocusField | null }): void => {
    if (this.fieldOf(event.target) !== null) this.#last = event.target as E;
  };

  /** For the document's `onfocusout`: focus that fell to the background comes back. */
  readonly onFocusOut = (): void => {
    // activeElement is only settled after focusout has finished dispatching.
    this.later(() => {
      if (this.blocked()) return;
      const active = this.doc.activeElement;
      if (active !== null && active !== this.doc.body) return;
      if (this.#last?.isConnected) this.#last.focus();
      else this.focusRequested();
    });
  };

  /** Hands each present field's live text to `input`: fast typing or a scanner can outrun the handlers. */
  sync(input: (field: F, text: string) => void): void {
    for (const [field, el] of Object.entries(this.fields()) as [F, E | undefined][]) {
      if (el?.isConnected) input(field, el.value);
    }
  }
}
