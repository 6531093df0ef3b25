// The Pesapal checkout flow, kept free of Svelte and the DOM like cashier.ts,
// telesend.ts and giftpesa.ts. The cashier types an amount, a description and the
// customer's phone or email (name optional); Checkout submits the order and the
// backend opens Pesapal's payment page in its own window. The till then waits:
// a long poll (`pesapal_wait`) repeated while the payment is pending, plus an
// immediate `pesapal_status` whenever the checkout window reaches the callback
// page. It ends on completed (or unknown), or failed/reversed, or when the cashier
// stops waiting; the order itself stays open on Pesapal's side either way.
import type {
  ApiError,
  CheckoutStarted,
  CheckoutStatus,
  IpnEntry,
  IpnSettings,
  PesapalCallback,
  PesapalCheckoutInput,
  QrMatrix,
  Redemption,
} from '../types';
import { toApiError } from '../api';
import type { Fact } from './format';

export type PpState =
  | { kind: 'form' }
  | { kind: 'submitting'; input: PesapalCheckoutInput }
  /** `status`: the latest pending answer, if any; `problem`: the last poll failed (retrying). */
  | { kind: 'waiting'; started: CheckoutStarted; status: CheckoutStatus | null; problem: ApiError | null }
  | { kind: 'success'; redemption: Redemption; status: CheckoutStatus }
  /** `status` null: the backend sent no status worth showing. */
  | { kind: 'unknown'; redemption: Redemption; status: CheckoutStatus | null };

export type PpKind = PpState['kind'];

/** What the panel shows (and WebDriver reads from `data-step`). */
export type PpStep = 'form' | 'submitting' | 'waiting' | 'done';

export type PpField = 'amount' | 'description' | 'phone' | 'email' | 'name';

/** The order a cashier types them in; Enter moves along it. */
export const FIELD_ORDER: readonly PpField[] = ['amount', 'description', 'phone', 'email', 'name'];

/** Pesapal's limit on an order description. */
export const DESCRIPTION_MAX = 100;

/** The fields' text, exactly as typed. */
export type PpForm = Record<PpField, string>;

const EMPTY_FORM: PpForm = { amount: '', description: '', phone: '', email: '', name: '' };

export const STOPPED_NOTE = 'Stopped waiting. The order stays open; a manager can check it later.';

/** The code `#pp-error` carries when the payment itself failed or was reversed. */
export const PAYMENT_FAILED = 'payment_failed';

/** A failed poll is retried after this long; the cashier can stop waiting meanwhile. */
export const RETRY_MS = 3000;

/** Wait calls start at least this far apart, should the backend ever answer at once. */
export const MIN_POLL_MS = 1000;

export interface PpSnapshot {
  state: PpState;
  step: PpStep;
  form: PpForm;
  /** Shown in `#pp-error`; cleared by an edit or the next attempt. */
  error: ApiError | null;
  /** Shown in `#pp-note` (after Stop waiting); cleared by the next edit or attempt. */
  note: string | null;
  checkoutInFlight: boolean;
  /** The field that should hold the keyboard. */
  focus: PpField;
  /** Bumped whenever the machine wants focus moved to `focus` (even if unchanged). */
  focusSeq: number;
}

/** The backend calls the flow needs; injected so tests can use fakes. */
export interface PesapalBackend {
  checkout(input: PesapalCheckoutInput): Promise<CheckoutStarted>;
  wait(transactionId: string): Promise<CheckoutStatus>;
  status(transactionId: string): Promise<CheckoutStatus>;
  stopWaiting(transactionId: string): Promise<unknown>;
}

/** Time, injected so tests control it. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export function stepOf(kind: PpKind): PpStep {
  return kind === 'success' || kind === 'unknown' ? 'done' : kind;
}

const filled = (text: string): boolean => text.trim() !== '';

/** The first required field still empty (phone stands for "phone or email"), or null. */
export function missingField(form: PpForm): PpField | null {
  if (!filled(form.amount)) return 'amount';
  if (!filled(form.description)) return 'description';
  if (!filled(form.phone) && !filled(form.email)) return 'phone';
  return null;
}

export function canCheckoutForm(kind: PpKind, form: PpForm, inFlight: boolean): boolean {
  return kind === 'form' && !inFlight && missingField(form) === null;
}

/** "First Last" → first word, and the rest as the last name. Either may be null. */
export function splitName(raw: string): { first_name: string | null; last_name: string | null } {
  const words = raw.trim().split(/\s+/).filter((w) => w !== '');
  const [first, ...rest] = words;
  return { first_name: first ?? null, last_name: rest.length > 0 ? rest.join(' ') : null };
}

const orNull = (text: string): string | null => (filled(text) ? text.trim() : null);

/** What is sent: trimmed as typed (the backend owns every rule), empty fields as null. */
export function buildInput(form: PpForm): PesapalCheckoutInput | null {
  if (missingField(form) !== null) return null;
  return {
    amount: form.amount.trim(),
    description: form.description.trim(),
    phone: orNull(form.phone),
    email: orNull(form.email),
    ...splitName(form.name),
  };
}

/** Where an error puts the keyboard: on the field to correct, else back at the top. */
export function errorField(code: string): PpField {
  switch (code) {
    case 'invalid_description':
      return 'description';
    case 'invalid_phone':
    case 'contact_missing':
      return 'phone';
    case 'invalid_email':
      return 'email';
    case 'invalid_name':
    case 'invalid_first_name':
    case 'invalid_last_name':
      return 'name';
    default:
      // invalid_amount, payment_failed, and setup problems (ipn_missing,
      // credentials_missing, …) that no field can fix.
      return 'amount';
  }
}

export function nextField(field: PpField): PpField {
  const i = FIELD_ORDER.indexOf(field);
  return FIELD_ORDER[Math.min(i + 1, FIELD_ORDER.length - 1)] ?? 'name';
}

/** `#pp-error` after a failed or reversed payment: the backend's words, else ours. */
export function failedError(status: CheckoutStatus): ApiError {
  const message = status.message.trim();
  if (message !== '') return { code: PAYMENT_FAILED, message };
  return {
    code: PAYMENT_FAILED,
    message:
      status.status === 'REVERSED'
        ? 'The payment was reversed: no money was received.'
        : 'The payment failed: no money was received.',
  };
}

/**
 * The Redemption to show for a final status. Anything but a clear "completed"
 * with a completed result is unknown; a final status without a result (the
 * contract says it always has one) becomes an unknown built from what we know,
 * so the cashier is never told to hand over the goods on a guess.
 */
export function outcomeOf(status: CheckoutStatus, started: CheckoutStarted): PpState {
  const r = status.result;
  if (r !== null) {
    return status.state === 'completed' && r.state === 'completed'
      ? { kind: 'success', redemption: r, status }
      : { kind: 'unknown', redemption: r, status };
  }
  const redemption: Redemption = {
    transaction_id: status.transaction_id,
    provider: 'pesapal',
    state: 'unknown',
    amount: started.amount,
    customer_name: null,
    code_masked: status.payment_account ?? '—',
    provider_reference: status.confirmation_code ?? started.order_tracking_id,
    message: status.message,
    receipt: null,
  };
  return { kind: 'unknown', redemption, status };
}

/** A status the flow stops waiting on. */
export function isFinal(status: CheckoutStatus): boolean {
  return status.state !== 'pending';
}

export type PpKeyAction = 'advance' | 'checkout' | 'clear' | 'stop' | 'next' | 'swallow' | null;

export interface PpKeyContext {
  key: string;
  repeat: boolean;
  /** Which of the panel's fields the keystroke was aimed at, if any. */
  field: PpField | null;
  kind: PpKind;
}

/**
 * Maps a key press in the Pesapal panel to an action. `null`: not ours;
 * `swallow`: ours, but do nothing (the browser default would be harmful).
 */
export function pesapalKeyAction({ key, repeat, field, kind }: PpKeyContext): PpKeyAction {
  const step = stepOf(kind);
  switch (key) {
    case 'F9':
      // Held-down keys never turn into a second order.
      return !repeat && step === 'form' ? 'checkout' : 'swallow';
    case 'Escape':
      // A held Esc must not stop waiting and then wipe the "stopped" note too.
      if (repeat || step === 'submitting') return 'swallow';
      if (step === 'done') return 'next';
      if (step === 'waiting') return 'stop';
      return 'clear';
    case 'Enter':
      if (repeat) return 'swallow';
      if (step === 'done') return 'next';
      if (step !== 'form') return 'swallow';
      // Only the last field submits; Enter anywhere else moves on to the next field.
      if (field === 'name') return 'checkout';
      return field === null ? null : 'advance';
    default:
      return null;
  }
}

// ---- The QR code ----

/** Light modules around the code; scanners need at least four. */
export const QR_QUIET = 4;

/** A horizontal run of dark modules: `w` cells from (x, y), one cell high. */
export interface QrRun {
  x: number;
  y: number;
  w: number;
}

export interface QrLayout {
  /** Side of the whole square, quiet zone included, in modules. */
  size: number;
  runs: QrRun[];
}

/** Largest QR code (version 40). */
const MAX_QR_WIDTH = 177;

/**
 * Turns the backend's module string into dark runs, shifted by the quiet zone:
 * '1' is dark, '0' light. Null when the matrix is malformed (better no code than
 * one that scans to something else).
 */
export function qrLayout(qr: QrMatrix, quiet = QR_QUIET): QrLayout | null {
  const { width, modules } = qr;
  if (!Number.isInteger(width) || width < 1 || width > MAX_QR_WIDTH) return null;
  if (modules.length !== width * width || !/^[01]*$/.test(modules)) return null;
  const runs: QrRun[] = [];
  for (let row = 0; row < width; row++) {
    let col = 0;
    while (col < width) {
      if (modules[row * width + col] !== '1') {
        col++;
        continue;
      }
      const start = col;
      while (col < width && modules[row * width + col] === '1') col++;
      runs.push({ x: start + quiet, y: row + quiet, w: col - start });
    }
  }
  return { size: width + 2 * quiet, runs };
}

/** On-screen side in CSS pixels: a whole number of pixels per module, near `target`. */
export function qrPixels(size: number, target = 260): number {
  return size * Math.max(2, Math.round(target / size));
}

// ---- The success panel's extra lines ----

/** Payment method, confirmation code and account, always all three (blank as "—"). */
export function paymentFacts(status: CheckoutStatus): Fact[] {
  const show = (v: string | null): string => (v !== null && v.trim() !== '' ? v : '—');
  return [
    { id: 'pp-method', label: 'Paid with', value: show(status.payment_method) },
    { id: 'pp-confirmation', label: 'Confirmation code', value: show(status.confirmation_code) },
    { id: 'pp-account', label: 'Account', value: show(status.payment_account) },
  ];
}

// ---- Settings: IPN ----

export function ipnChosen(settings: IpnSettings): IpnEntry | null {
  return settings.entries.find((e) => e.ipn_id === settings.chosen) ?? null;
}

/** `#pp-ipn-status` when nothing has just happened. */
export function ipnStatusText(settings: IpnSettings): string {
  const chosen = ipnChosen(settings);
  if (chosen !== null) return `Notifications go to ${chosen.url}`;
  if (settings.chosen !== null) return `IPN ${settings.chosen} is chosen but not listed for these credentials`;
  if (settings.entries.length === 0) return 'No IPN URL registered yet: checkout is refused until one is';
  return 'No IPN chosen yet: checkout is refused until one is';
}

// ---- The flow ----

export class Pesapal {
  #state: PpState = { kind: 'form' };
  #form: PpForm = { ...EMPTY_FORM };
  #error: ApiError | null = null;
  #note: string | null = null;
  #focus: PpField = 'amount';
  #focusSeq = 0;
  #checkoutInFlight = false;
  // Bumped whenever waiting ends (outcome, stop, dispose): an answer carrying an
  // older ticket belongs to a wait the cashier has walked away from.
  #waitTicket = 0;
  // A callback event that arrived before the checkout call answered.
  #earlyCallback: string | null = null;
  // Set when the panel goes away: nothing arriving later may touch anything.
  #disposed = false;
  readonly #backend: PesapalBackend;
  readonly #onChange: (snapshot: PpSnapshot) => void;
  readonly #onSettled: () => void;
  readonly #clock: Clock;

  constructor(
    backend: PesapalBackend,
    onChange: (snapshot: PpSnapshot) => void = () => {},
    onSettled: () => void = () => {},
    clock: Clock = realClock,
  ) {
    this.#backend = backend;
    this.#onChange = onChange;
    this.#onSettled = onSettled;
    this.#clock = clock;
  }

  get snapshot(): PpSnapshot {
    return {
      state: this.#state,
      step: stepOf(this.#state.kind),
      form: this.#form,
      error: this.#error,
      note: this.#note,
      checkoutInFlight: this.#checkoutInFlight,
      focus: this.#focus,
      focusSeq: this.#focusSeq,
    };
  }

  get state(): PpState {
    return this.#state;
  }

  get canCheckout(): boolean {
    return canCheckoutForm(this.#state.kind, this.#form, this.#checkoutInFlight);
  }

  #emit(): void {
    if (!this.#disposed) this.#onChange(this.snapshot);
  }

  #moveFocus(field: PpField): void {
    this.#focus = field;
    this.#focusSeq++;
  }

  #toEmptyForm(): void {
    this.#state = { kind: 'form' };
    this.#form = { ...EMPTY_FORM };
    this.#error = null;
    this.#note = null;
    this.#moveFocus('amount');
  }

  /** The transaction being waited on under `ticket`, or null if that wait is over. */
  #waitingOn(ticket: number): string | null {
    if (this.#disposed || ticket !== this.#waitTicket || this.#state.kind !== 'waiting') return null;
    return this.#state.started.transaction_id;
  }

  /** A field's text changed (typing, pasting). Ignored outside the form. */
  input(field: PpField, raw: string): void {
    if (this.#disposed || this.#state.kind !== 'form' || raw === this.#form[field]) return;
    // The error (or note) was about what the cashier is now changing.
    if (raw.trim() !== this.#form[field].trim()) {
      this.#error = null;
      this.#note = null;
    }
    this.#form = { ...this.#form, [field]: raw };
    this.#emit();
  }

  /** Enter in a field other than the last: on to the next one. */
  advance(from: PpField): boolean {
    if (this.#disposed || this.#state.kind !== 'form') return false;
    this.#moveFocus(nextField(from));
    this.#emit();
    return true;
  }

  /** Checkout [F9] / Enter in the name. Returns true when a call was made. */
  async checkout(): Promise<boolean> {
    if (this.#disposed || this.#state.kind !== 'form' || this.#checkoutInFlight) return false;
    const input = buildInput(this.#form);
    if (input === null) {
      // Send the cashier to what is missing instead of a call that cannot succeed.
      this.#moveFocus(missingField(this.#form) ?? 'amount');
      this.#emit();
      return false;
    }
    // Set synchronously, before any await, so a second press in the same tick is refused.
    this.#checkoutInFlight = true;
    this.#state = { kind: 'submitting', input };
    this.#error = null;
    this.#note = null;
    this.#earlyCallback = null;
    this.#emit();
    let started: CheckoutStarted | null = null;
    try {
      started = await this.#backend.checkout(input);
    } catch (err) {
      // No order was placed: the form stays filled so one correction and F9 retries.
      if (!this.#disposed) {
        const error = toApiError(err);
        this.#state = { kind: 'form' };
        this.#error = error;
        this.#moveFocus(errorField(error.code));
      }
    } finally {
      this.#checkoutInFlight = false;
    }
    if (started !== null) {
      if (this.#disposed) {
        // Nobody is left to wait: close the checkout window the backend just opened.
        this.#backend.stopWaiting(started.transaction_id).catch(() => {});
      } else {
        this.#startWaiting(started);
      }
    }
    this.#emit();
    // A pending (or refused) order is in the ledger now: the recent list refreshes.
    this.#onSettled();
    return true;
  }

  #startWaiting(started: CheckoutStarted): void {
    const ticket = ++this.#waitTicket;
    this.#state = { kind: 'waiting', started, status: null, problem: null };
    const early = this.#earlyCallback === started.transaction_id;
    this.#earlyCallback = null;
    void this.#poll(started.transaction_id, ticket);
    if (early) void this.#checkNow(started.transaction_id, ticket);
  }

  /** The long poll, repeated while pending and the cashier still waits. */
  async #poll(transactionId: string, ticket: number): Promise<void> {
    while (this.#waitingOn(ticket) === transactionId) {
      const began = this.#clock.now();
      let status: CheckoutStatus;
      try {
        status = await this.#backend.wait(transactionId);
      } catch (err) {
        if (this.#waitingOn(ticket) !== transactionId) return;
        // The payment may still be going through: say so, and try again shortly.
        this.#setProblem(toApiError(err));
        await this.#clock.sleep(RETRY_MS);
        continue;
      }
      if (this.#waitingOn(ticket) !== transactionId) {
        // Stopped (or finished by a status call) meanwhile: not shown, but a final
        // answer changed the ledger, so the recent list still refreshes.
        if (isFinal(status) && !this.#disposed) this.#onSettled();
        return;
      }
      this.#apply(status, ticket);
      const spent = this.#clock.now() - began;
      if (this.#waitingOn(ticket) === transactionId && spent < MIN_POLL_MS) {
        await this.#clock.sleep(MIN_POLL_MS - spent);
      }
    }
  }

  /** An immediate status call (the checkout window reached the callback page). */
  async #checkNow(transactionId: string, ticket: number): Promise<void> {
    let status: CheckoutStatus;
    try {
      status = await this.#backend.status(transactionId);
    } catch {
      // The long poll is still running and will bring the answer.
      return;
    }
    if (this.#waitingOn(ticket) !== transactionId) return;
    this.#apply(status, ticket);
  }

  #setProblem(problem: ApiError): void {
    if (this.#state.kind !== 'waiting') return;
    this.#state = { ...this.#state, problem };
    this.#emit();
  }

  /** A status for the wait under `ticket` (already checked to be current). */
  #apply(status: CheckoutStatus, ticket: number): void {
    const s = this.#state;
    if (s.kind !== 'waiting' || ticket !== this.#waitTicket) return;
    if (status.state === 'pending') {
      this.#state = { ...s, status, problem: null };
      this.#emit();
      return;
    }
    this.#waitTicket++;
    if (status.state === 'failed') {
      // No money was taken: back to the same form, so the customer can try again.
      const error = failedError(status);
      this.#state = { kind: 'form' };
      this.#error = error;
      this.#note = null;
      this.#moveFocus(errorField(error.code));
    } else {
      this.#state = outcomeOf(status, s.started);
    }
    this.#emit();
    this.#onSettled();
  }

  /** `pesapal-callback`: the checkout window reached the callback page. */
  callback(payload: PesapalCallback): boolean {
    if (this.#disposed) return false;
    const s = this.#state;
    if (s.kind === 'submitting') {
      this.#earlyCallback = payload.transaction_id;
      return false;
    }
    if (s.kind !== 'waiting' || s.started.transaction_id !== payload.transaction_id) return false;
    void this.#checkNow(payload.transaction_id, this.#waitTicket);
    return true;
  }

  /** Stop waiting [Esc]: the window closes, the order stays open, the form is empty again. */
  stop(): boolean {
    const s = this.#state;
    if (this.#disposed || s.kind !== 'waiting') return false;
    const transactionId = s.started.transaction_id;
    this.#waitTicket++;
    this.#toEmptyForm();
    this.#note = STOPPED_NOTE;
    const ticket = this.#waitTicket;
    this.#emit();
    this.#backend.stopWaiting(transactionId).then(
      () => this.#onSettled(),
      (err: unknown) => {
        // Only worth saying while the cashier has not moved on.
        if (this.#disposed || ticket !== this.#waitTicket || this.#note !== STOPPED_NOTE) return;
        this.#error = toApiError(err);
        this.#emit();
      },
    );
    return true;
  }

  /** Esc in the form: empty every field. Refused mid-checkout, while waiting and after an outcome. */
  clear(): boolean {
    if (this.#disposed || this.#state.kind !== 'form') return false;
    this.#toEmptyForm();
    this.#emit();
    return true;
  }

  /** "Next customer": acknowledge a finished payment. */
  next(): boolean {
    if (this.#disposed || (this.#state.kind !== 'success' && this.#state.kind !== 'unknown')) return false;
    this.#toEmptyForm();
    this.#emit();
    return true;
  }

  /** The panel is going away (sign-out): stop polling and close the checkout window. */
  dispose(): void {
    if (this.#disposed) return;
    const s = this.#state;
    this.#disposed = true;
    this.#waitTicket++;
    if (s.kind === 'waiting') this.#backend.stopWaiting(s.started.transaction_id).catch(() => {});
  }
}
