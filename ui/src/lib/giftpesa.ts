// The GiftPesa flow, kept free of Svelte and the DOM like cashier.ts and telesend.ts.
// There is no voucher code: the cashier types the customer's name, phone, amount
// (whole shillings) and optional remarks, and one call redeems at the store's
// M-Pesa till. Enter walks the fields in order and redeems only from the last one
// (remarks); F9 redeems from anywhere in the form.
import type { ApiError, GiftPesaInput, GiftPesaSettings, Redemption } from '../types';
import { toApiError } from '../api';

export type GpState =
  | { kind: 'form' }
  | { kind: 'redeeming'; input: GiftPesaInput }
  | { kind: 'success'; redemption: Redemption }
  | { kind: 'unknown'; redemption: Redemption };

export type GpKind = GpState['kind'];

/** What the panel shows (and WebDriver reads from `data-step`). */
export type GpStep = 'form' | 'redeeming' | 'done';

export type GpField = 'name' | 'phone' | 'amount' | 'remarks';

/** The order a cashier types them in; Enter moves along it. */
export const FIELD_ORDER: readonly GpField[] = ['name', 'phone', 'amount', 'remarks'];

const REQUIRED: readonly GpField[] = ['name', 'phone', 'amount'];

/** The fields' text, exactly as typed. */
export type GpForm = Record<GpField, string>;

const EMPTY_FORM: GpForm = { name: '', phone: '', amount: '', remarks: '' };

/** The store's till as the panel shows it. */
export type TillView =
  | { kind: 'loading' }
  | { kind: 'loaded'; settings: GiftPesaSettings }
  | { kind: 'error'; error: ApiError };

export interface GpSnapshot {
  state: GpState;
  step: GpStep;
  form: GpForm;
  /** Shown in `#gp-error`; cleared by an edit or the next attempt. */
  error: ApiError | null;
  redeemInFlight: boolean;
  /** The field that should hold the keyboard. */
  focus: GpField;
  /** Bumped whenever the machine wants focus moved to `focus` (even if unchanged). */
  focusSeq: number;
  till: TillView;
}

/** The backend calls the flow needs; injected so tests can use fakes. */
export interface GiftPesaBackend {
  redeem(input: GiftPesaInput): Promise<Redemption>;
  settings(): Promise<GiftPesaSettings>;
}

export function stepOf(kind: GpKind): GpStep {
  return kind === 'success' || kind === 'unknown' ? 'done' : kind;
}

/** The first required field still empty, or null when the form can be sent. */
export function missingField(form: GpForm): GpField | null {
  return REQUIRED.find((f) => form[f].trim() === '') ?? null;
}

/**
 * What is sent: trimmed as typed (the backend parses phone and amount and owns
 * every rule), empty remarks as null, and no till: the store's configured one.
 */
export function buildInput(form: GpForm): GiftPesaInput | null {
  if (missingField(form) !== null) return null;
  const remarks = form.remarks.trim();
  return {
    name: form.name.trim(),
    phone: form.phone.trim(),
    amount: form.amount.trim(),
    till: null,
    remarks: remarks === '' ? null : remarks,
    confirm_repeat: false,
  };
}

/**
 * The backend refused this exact form because the same customer was just
 * given the same amount; the next Redeem confirms a second purchase. Any edit
 * that changes what would be sent clears the error, and with it the warning.
 */
export function repeatWarned(error: ApiError | null): boolean {
  return error?.code === 'just_redeemed';
}

export function canRedeemForm(kind: GpKind, form: GpForm, inFlight: boolean): boolean {
  return kind === 'form' && !inFlight && missingField(form) === null;
}

/** Where an error puts the keyboard: on the field to correct, else back at the top. */
export function errorField(code: string): GpField {
  switch (code) {
    case 'invalid_name':
      return 'name';
    case 'invalid_phone':
    // Both are about this customer's phone: "already in progress for this phone",
    // "no gift balance for this number".
    case 'in_flight':
    case 'not_found':
      return 'phone';
    case 'invalid_amount':
    // GiftPesa's 400 is nearly always an amount above the customer's balance.
    case 'bad_request':
    // The same amount was just redeemed for this customer: a typo is most likely there.
    case 'just_redeemed':
      return 'amount';
    case 'invalid_remarks':
      return 'remarks';
    default:
      return 'name';
  }
}

export function nextField(field: GpField): GpField {
  const i = FIELD_ORDER.indexOf(field);
  return FIELD_ORDER[Math.min(i + 1, FIELD_ORDER.length - 1)] ?? 'remarks';
}

export type GpKeyAction = 'advance' | 'redeem' | 'clear' | 'next' | 'swallow' | null;

export interface GpKeyContext {
  key: string;
  repeat: boolean;
  /** Which of the panel's fields the keystroke was aimed at, if any. */
  field: GpField | null;
  kind: GpKind;
}

/**
 * Maps a key press in the GiftPesa panel to an action. `null`: not ours;
 * `swallow`: ours, but do nothing (the browser default would be harmful).
 */
export function giftPesaKeyAction({ key, repeat, field, kind }: GpKeyContext): GpKeyAction {
  const step = stepOf(kind);
  switch (key) {
    case 'F9':
      // Held-down keys never turn into a second attempt.
      return !repeat && step === 'form' ? 'redeem' : 'swallow';
    case 'Escape':
      if (step === 'done') return 'next';
      if (step === 'redeeming') return 'swallow';
      return 'clear';
    case 'Enter':
      if (repeat) return 'swallow';
      if (step === 'done') return 'next';
      if (step === 'redeeming') return 'swallow';
      // Only the last field redeems; Enter anywhere else moves on to the next field.
      if (field === 'remarks') return 'redeem';
      return field === null ? null : 'advance';
    default:
      return null;
  }
}

// ---- Settings (and the panel's till line) ----

/** The panel's `#gp-till`. */
export function tillText(settings: GiftPesaSettings): string {
  const till = settings.till_number?.trim() ?? '';
  return till === '' ? 'No till number set' : `Till ${till}`;
}

export function certificateText(settings: GiftPesaSettings, training: boolean): string {
  if (settings.certificate_imported) return 'key.crt imported';
  return training ? 'No key.crt imported (training uses its own)' : 'No key.crt imported yet';
}

export function connectedText(merchants: number): string {
  return `Connected: ${merchants} ${merchants === 1 ? 'merchant' : 'merchants'}`;
}

/** The backend refuses more; checked first so a wrong pick is not read into memory. */
export const MAX_CERTIFICATE_BYTES = 64 * 1024;

export const CERTIFICATE_TOO_LARGE: ApiError = {
  code: 'certificate',
  message: 'That file is too large to be a key.crt',
};

/** The picked file's text, for giftpesa_import_certificate. Rejects with an ApiError. */
export async function readCertificate(file: { size: number; text(): Promise<string> }): Promise<string> {
  if (file.size > MAX_CERTIFICATE_BYTES) throw CERTIFICATE_TOO_LARGE;
  try {
    return await file.text();
  } catch (err) {
    throw toApiError(err);
  }
}

export class GiftPesa {
  #state: GpState = { kind: 'form' };
  #form: GpForm = { ...EMPTY_FORM };
  #error: ApiError | null = null;
  #focus: GpField = 'name';
  #focusSeq = 0;
  #redeemInFlight = false;
  #till: TillView = { kind: 'loading' };
  // Bumped by every settings load: an older answer never overwrites a newer one.
  #settingsTicket = 0;
  // Set when the panel goes away: nothing arriving later may touch anything.
  #disposed = false;
  readonly #backend: GiftPesaBackend;
  readonly #onChange: (snapshot: GpSnapshot) => void;
  readonly #onRedeemSettled: () => void;

  constructor(
    backend: GiftPesaBackend,
    onChange: (snapshot: GpSnapshot) => void = () => {},
    onRedeemSettled: () => void = () => {},
  ) {
    this.#backend = backend;
    this.#onChange = onChange;
    this.#onRedeemSettled = onRedeemSettled;
  }

  get snapshot(): GpSnapshot {
    return {
      state: this.#state,
      step: stepOf(this.#state.kind),
      form: this.#form,
      error: this.#error,
      redeemInFlight: this.#redeemInFlight,
      focus: this.#focus,
      focusSeq: this.#focusSeq,
      till: this.#till,
    };
  }

  get state(): GpState {
    return this.#state;
  }

  get canRedeem(): boolean {
    return canRedeemForm(this.#state.kind, this.#form, this.#redeemInFlight);
  }

  #emit(): void {
    if (!this.#disposed) this.#onChange(this.snapshot);
  }

  #moveFocus(field: GpField): void {
    this.#focus = field;
    this.#focusSeq++;
  }

  #toEmptyForm(): void {
    this.#state = { kind: 'form' };
    this.#form = { ...EMPTY_FORM };
    this.#error = null;
    this.#moveFocus('name');
  }

  /** A field's text changed (typing, pasting). Ignored outside the form. */
  input(field: GpField, raw: string): void {
    if (this.#disposed || this.#state.kind !== 'form' || raw === this.#form[field]) return;
    // The error was about what the cashier is now correcting.
    if (raw.trim() !== this.#form[field].trim()) this.#error = null;
    this.#form = { ...this.#form, [field]: raw };
    this.#emit();
  }

  /** Enter in a field other than the last: on to the next one. */
  advance(from: GpField): boolean {
    if (this.#disposed || this.#state.kind !== 'form') return false;
    this.#moveFocus(nextField(from));
    this.#emit();
    return true;
  }

  /** Redeem [F9] / Enter in remarks. Returns true when a call was made. */
  async redeem(): Promise<boolean> {
    if (this.#disposed || this.#state.kind !== 'form' || this.#redeemInFlight) return false;
    const built = buildInput(this.#form);
    const input = built && { ...built, confirm_repeat: repeatWarned(this.#error) };
    if (input === null) {
      // Send the cashier to what is missing instead of a call that cannot succeed.
      this.#moveFocus(missingField(this.#form) ?? 'name');
      this.#emit();
      return false;
    }
    // Set synchronously, before any await, so a second click in the same tick is refused.
    this.#redeemInFlight = true;
    this.#state = { kind: 'redeeming', input };
    this.#error = null;
    this.#emit();
    try {
      const redemption = await this.#backend.redeem(input);
      // Money may have moved, so the outcome is always shown (nothing but the panel
      // going away drops it), and anything but a clear "completed" is unknown:
      // never tell a cashier to hand over the goods on a guess.
      if (!this.#disposed) {
        this.#state =
          redemption.state === 'completed' ? { kind: 'success', redemption } : { kind: 'unknown', redemption };
      }
    } catch (err) {
      // Nothing was redeemed: the form stays filled so one correction and F9 retries.
      if (!this.#disposed) {
        const error = toApiError(err);
        this.#state = { kind: 'form' };
        this.#error = error;
        this.#moveFocus(errorField(error.code));
      }
    } finally {
      this.#redeemInFlight = false;
    }
    this.#emit();
    // The ledger changed whatever the panel's fate: the recent list refreshes.
    this.#onRedeemSettled();
    return true;
  }

  /** Esc in the form: empty every field. Refused mid-redemption and after an outcome. */
  clear(): boolean {
    if (this.#disposed || this.#state.kind !== 'form') return false;
    this.#toEmptyForm();
    this.#emit();
    return true;
  }

  /** "Next customer": acknowledge a finished redemption. */
  next(): boolean {
    if (this.#disposed || (this.#state.kind !== 'success' && this.#state.kind !== 'unknown')) return false;
    this.#toEmptyForm();
    this.#emit();
    return true;
  }

  /** (Re)reads the store's till; only the newest answer counts. */
  async loadSettings(): Promise<void> {
    if (this.#disposed) return;
    const ticket = ++this.#settingsTicket;
    try {
      const settings = await this.#backend.settings();
      if (ticket !== this.#settingsTicket || this.#disposed) return;
      this.#till = { kind: 'loaded', settings };
    } catch (err) {
      if (ticket !== this.#settingsTicket || this.#disposed) return;
      this.#till = { kind: 'error', error: toApiError(err) };
    }
    this.#emit();
  }

  /** The panel is going away (tab switch, sign-out): later answers change nothing. */
  dispose(): void {
    this.#disposed = true;
    this.#settingsTicket++;
  }
}
