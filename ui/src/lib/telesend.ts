// The Telesend gift-voucher flow, kept free of Svelte and the DOM like cashier.ts.
// Two steps: "claim" asks Telesend to text the voucher's owner a code (no money
// moves), then "redeem" spends it with the code the customer reads out.
// Anonymous vouchers skip the SMS and are redeemed whole, straight from the claim
// step, but only by a deliberate F10 / button: Enter there only ever claims.
import type { ApiError, ClaimResult, Redemption } from '../types';
import { toApiError } from '../api';
import { normalizeCode } from './cashier';

export type GiftState =
  | { kind: 'claim' }
  /** A claim (or, with `resend`, a repeat claim from the SMS step) is on its way. */
  | { kind: 'sending'; code: string; amount: string | null; resend: ClaimResult | null }
  | { kind: 'verify'; code: string; amount: string | null; claim: ClaimResult }
  /** `claim` null: an anonymous voucher, redeemed without an SMS code. */
  | { kind: 'redeeming'; code: string; amount: string | null; claim: ClaimResult | null }
  | { kind: 'success'; code: string; redemption: Redemption }
  | { kind: 'unknown'; code: string; redemption: Redemption };

export type GiftKind = GiftState['kind'];

/** What the panel shows (and WebDriver reads from `data-step`). */
export type Step = 'claim' | 'sending' | 'verify' | 'redeeming' | 'done';

export type Field = 'code' | 'amount' | 'verification';

export interface GiftSnapshot {
  state: GiftState;
  step: Step;
  codeText: string;
  amountText: string;
  verificationText: string;
  /** Shown in `#gift-error`; cleared by the next action. */
  error: ApiError | null;
  /** An extra line under the error telling the cashier what to do next. */
  hint: string | null;
  redeemInFlight: boolean;
  /** The field that should hold the keyboard. */
  focus: Field;
  /** Bumped whenever the machine wants focus moved to `focus` (even if unchanged). */
  focusSeq: number;
}

/** The backend calls the flow needs; injected so tests can use fakes. */
export interface GiftBackend {
  claim(code: string, amount: string | null): Promise<ClaimResult>;
  redeem(code: string, verificationCode: string | null): Promise<Redemption>;
  cancel(code: string): Promise<boolean>;
}

export function stepOf(kind: GiftKind): Step {
  return kind === 'success' || kind === 'unknown' ? 'done' : kind;
}

/** An empty amount field means "the whole voucher". Sent as typed; the backend parses it. */
export function normalizeAmount(raw: string): string | null {
  const amount = raw.trim();
  return amount === '' ? null : amount;
}

/** Customers read codes out in groups ("123 456"); spaces are never part of one. */
export function normalizeVerification(raw: string): string {
  return raw.replace(/\s+/g, '');
}

/** Where an error leaves the cashier. */
export type ErrorRoute = 'retype-sms' | 'send-sms-first' | 'fix-amount' | 'claim';

export function errorRoute(code: string): ErrorRoute {
  switch (code) {
    case 'wrong_verification_code':
    case 'invalid_verification_code':
      return 'retype-sms';
    case 'verification_code_missing':
    case 'no_claim_started':
      return 'send-sms-first';
    case 'amount_above_remaining':
    case 'invalid_amount':
      return 'fix-amount';
    default:
      return 'claim';
  }
}

export const SEND_SMS_HINT = "This voucher needs the customer's SMS code: press Enter to send it.";

/** Raised by the UI itself: an anonymous redemption always takes the whole value. */
export const ANONYMOUS_WITH_AMOUNT: ApiError = {
  code: 'anonymous_whole_value',
  message: 'An anonymous voucher is redeemed for its whole value: clear the amount first.',
};

export function canRedeemVerified(kind: GiftKind, verificationText: string, inFlight: boolean): boolean {
  return kind === 'verify' && !inFlight && normalizeVerification(verificationText) !== '';
}

export type GiftKeyAction = 'send' | 'redeem' | 'anonymous' | 'cancel' | 'clear' | 'next' | 'swallow' | null;

export interface GiftKeyContext {
  key: string;
  repeat: boolean;
  /** Which of the panel's fields the keystroke was aimed at, if any. */
  field: Field | null;
  kind: GiftKind;
}

/**
 * Maps a key press in the Telesend panel to an action. `null`: not ours;
 * `swallow`: ours, but do nothing (the browser default would be harmful).
 */
export function giftKeyAction({ key, repeat, field, kind }: GiftKeyContext): GiftKeyAction {
  const step = stepOf(kind);
  switch (key) {
    case 'F9':
      // Held-down keys never turn into a second attempt.
      return !repeat && step === 'verify' ? 'redeem' : 'swallow';
    case 'F10':
      return !repeat && step === 'claim' ? 'anonymous' : 'swallow';
    case 'Escape':
      if (step === 'done') return 'next';
      if (step === 'redeeming') return 'swallow';
      if (step === 'claim') return 'clear';
      return 'cancel';
    case 'Enter':
      if (repeat) return 'swallow';
      if (step === 'done') return 'next';
      if (step === 'sending' || step === 'redeeming') return 'swallow';
      // Scanners end every scan with Enter: in the claim step Enter only claims.
      if (step === 'claim') return field === 'code' || field === 'amount' ? 'send' : null;
      // The SMS code is typed deliberately, digit by digit, so Enter may redeem it.
      return field === 'verification' ? 'redeem' : null;
    default:
      return null;
  }
}

export class Telesend {
  #state: GiftState = { kind: 'claim' };
  #codeText = '';
  #amountText = '';
  #verificationText = '';
  #error: ApiError | null = null;
  #hint: string | null = null;
  #focus: Field = 'code';
  #focusSeq = 0;
  #redeemInFlight = false;
  // Bumped by anything that abandons the current claim; a claim answer carrying
  // an older ticket belongs to something the cashier has walked away from.
  #ticket = 0;
  readonly #backend: GiftBackend;
  readonly #onChange: (snapshot: GiftSnapshot) => void;
  readonly #onRedeemSettled: () => void;

  constructor(
    backend: GiftBackend,
    onChange: (snapshot: GiftSnapshot) => void = () => {},
    onRedeemSettled: () => void = () => {},
  ) {
    this.#backend = backend;
    this.#onChange = onChange;
    this.#onRedeemSettled = onRedeemSettled;
  }

  get snapshot(): GiftSnapshot {
    return {
      state: this.#state,
      step: stepOf(this.#state.kind),
      codeText: this.#codeText,
      amountText: this.#amountText,
      verificationText: this.#verificationText,
      error: this.#error,
      hint: this.#hint,
      redeemInFlight: this.#redeemInFlight,
      focus: this.#focus,
      focusSeq: this.#focusSeq,
    };
  }

  get state(): GiftState {
    return this.#state;
  }

  get canRedeem(): boolean {
    return canRedeemVerified(this.#state.kind, this.#verificationText, this.#redeemInFlight);
  }

  #emit(): void {
    this.#onChange(this.snapshot);
  }

  #moveFocus(field: Field): void {
    this.#focus = field;
    this.#focusSeq++;
  }

  #setError(error: ApiError | null, hint: string | null = null): void {
    this.#error = error;
    this.#hint = hint;
  }

  /** Back to an empty claim step (Cancel, Esc, next customer, tab switch). */
  #toEmptyClaim(): void {
    this.#ticket++;
    this.#state = { kind: 'claim' };
    this.#codeText = '';
    this.#amountText = '';
    this.#verificationText = '';
    this.#setError(null);
    this.#moveFocus('code');
  }

  /** The code of a claim this screen still stands behind, if any. */
  #liveClaimCode(): string | null {
    const s = this.#state;
    return s.kind === 'sending' || s.kind === 'verify' || s.kind === 'redeeming' ? s.code : null;
  }

  inputCode(raw: string): void {
    if (this.#state.kind !== 'claim' || raw === this.#codeText) return;
    // An error belongs to the code it was about.
    if (normalizeCode(raw) !== normalizeCode(this.#codeText)) this.#setError(null);
    this.#codeText = raw;
    this.#emit();
  }

  inputAmount(raw: string): void {
    if (this.#state.kind !== 'claim' || raw === this.#amountText) return;
    this.#amountText = raw;
    this.#emit();
  }

  inputVerification(raw: string): void {
    if (this.#state.kind !== 'verify' || raw === this.#verificationText) return;
    this.#verificationText = raw;
    this.#emit();
  }

  /** Claim step: ask Telesend to text the owner a code. Returns true when a call was made. */
  send(): Promise<boolean> {
    if (this.#state.kind !== 'claim') return Promise.resolve(false);
    const code = normalizeCode(this.#codeText);
    if (code === '') {
      this.#moveFocus('code');
      this.#emit();
      return Promise.resolve(false);
    }
    return this.#claim(code, normalizeAmount(this.#amountText), null);
  }

  /** SMS step: send the code again (same voucher, same amount). */
  resend(): Promise<boolean> {
    const s = this.#state;
    if (s.kind !== 'verify' || this.#redeemInFlight) return Promise.resolve(false);
    return this.#claim(s.code, s.amount, s.claim);
  }

  async #claim(code: string, amount: string | null, previous: ClaimResult | null): Promise<boolean> {
    const ticket = ++this.#ticket;
    this.#state = { kind: 'sending', code, amount, resend: previous };
    this.#setError(null);
    this.#emit();
    try {
      const claim = await this.#backend.claim(code, amount);
      if (ticket !== this.#ticket) {
        // The cashier cancelled or left while the claim was on its way, so nobody
        // will ever type this SMS code: withdraw it, unless the same voucher has
        // been claimed again meanwhile.
        if (this.#liveClaimCode() !== code) this.#backend.cancel(code).catch(() => {});
        return true;
      }
      this.#state = { kind: 'verify', code, amount, claim };
      this.#verificationText = '';
      this.#moveFocus('verification');
    } catch (err) {
      if (ticket !== this.#ticket) return true;
      const error = toApiError(err);
      this.#state = { kind: 'claim' };
      this.#setError(error);
      this.#moveFocus(errorRoute(error.code) === 'fix-amount' ? 'amount' : 'code');
    }
    this.#emit();
    return true;
  }

  /** SMS step: redeem with the code the customer read out. Returns true when a call was made. */
  redeem(): Promise<boolean> {
    const s = this.#state;
    if (!canRedeemVerified(s.kind, this.#verificationText, this.#redeemInFlight) || s.kind !== 'verify') {
      return Promise.resolve(false);
    }
    return this.#redeem(s.code, s.amount, normalizeVerification(this.#verificationText), s.claim);
  }

  /** Claim step, F10: an anonymous voucher needs no SMS code and goes whole. */
  redeemAnonymous(): Promise<boolean> {
    if (this.#state.kind !== 'claim' || this.#redeemInFlight) return Promise.resolve(false);
    const code = normalizeCode(this.#codeText);
    if (code === '') {
      this.#moveFocus('code');
      this.#emit();
      return Promise.resolve(false);
    }
    if (normalizeAmount(this.#amountText) !== null) {
      this.#setError(ANONYMOUS_WITH_AMOUNT);
      this.#moveFocus('amount');
      this.#emit();
      return Promise.resolve(false);
    }
    return this.#redeem(code, null, null, null);
  }

  async #redeem(
    code: string,
    amount: string | null,
    verification: string | null,
    claim: ClaimResult | null,
  ): Promise<boolean> {
    // Set synchronously, before any await, so a second click in the same tick is refused.
    this.#redeemInFlight = true;
    this.#ticket++;
    this.#state = { kind: 'redeeming', code, amount, claim };
    this.#setError(null);
    this.#emit();
    try {
      const redemption = await this.#backend.redeem(code, verification);
      // No staleness check: money may have moved, so the outcome is always shown,
      // and anything but a clear "completed" is unknown.
      this.#state =
        redemption.state === 'completed'
          ? { kind: 'success', code, redemption }
          : { kind: 'unknown', code, redemption };
    } catch (err) {
      this.#redeemFailed(code, amount, claim, toApiError(err));
    } finally {
      this.#redeemInFlight = false;
    }
    this.#emit();
    this.#onRedeemSettled();
    return true;
  }

  #redeemFailed(code: string, amount: string | null, claim: ClaimResult | null, error: ApiError): void {
    const route = errorRoute(error.code);
    if (route === 'retype-sms' && claim !== null) {
      // Same claim, fresh attempt: every attempt counts, so the field starts empty.
      this.#state = { kind: 'verify', code, amount, claim };
      this.#verificationText = '';
      this.#setError(error);
      this.#moveFocus('verification');
      return;
    }
    // Everything else lands in the claim step, code (and amount) kept, so a
    // single Enter sends the SMS code.
    this.#state = { kind: 'claim' };
    this.#verificationText = '';
    this.#setError(error, route === 'send-sms-first' ? SEND_SMS_HINT : null);
    this.#moveFocus(route === 'fix-amount' ? 'amount' : 'code');
  }

  /** Cancel [Esc] in the SMS step (or while a claim is on its way). Refused mid-redemption. */
  cancel(): boolean {
    const s = this.#state;
    if (s.kind !== 'verify' && s.kind !== 'sending') return false;
    this.#toEmptyClaim();
    const ticket = this.#ticket;
    this.#emit();
    this.#backend.cancel(s.code).catch((err: unknown) => {
      // Only worth saying while the cashier has not moved on.
      if (ticket !== this.#ticket || this.#state.kind !== 'claim' || this.#codeText !== '') return;
      this.#setError(toApiError(err));
      this.#emit();
    });
    return true;
  }

  /** Esc in the claim step: empty both fields. */
  clear(): boolean {
    if (this.#state.kind === 'sending' || this.#state.kind === 'verify') return this.cancel();
    if (this.#state.kind !== 'claim') return false;
    this.#toEmptyClaim();
    this.#emit();
    return true;
  }

  /** "Next customer": acknowledge a finished redemption. */
  next(): boolean {
    if (this.#state.kind !== 'success' && this.#state.kind !== 'unknown') return false;
    this.#toEmptyClaim();
    this.#emit();
    return true;
  }

  /** Leaving the panel (tab switch, sign-out): drop everything, withdraw an open claim. */
  reset(): boolean {
    if (this.#redeemInFlight) return false;
    if (!this.cancel()) {
      this.#toEmptyClaim();
      this.#emit();
    }
    return true;
  }
}
