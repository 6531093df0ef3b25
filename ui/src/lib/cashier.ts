// The cashier's state machine, kept free of Svelte and the DOM so the rules that
// protect real money (Enter never redeems, one redeem per click storm, stale
// answers ignored) can be unit-tested directly.
import type { ApiError, Redemption, Validation } from '../types';
import { toApiError } from '../api';

export type CashierState =
  | { kind: 'idle' }
  | { kind: 'checking'; code: string }
  | { kind: 'valid'; code: string; validation: Validation }
  | { kind: 'invalid'; code: string; validation: Validation }
  | { kind: 'error'; code: string; error: ApiError; during: 'validate' | 'redeem' }
  | { kind: 'redeeming'; code: string; validation: Validation }
  | { kind: 'success'; code: string; redemption: Redemption }
  | { kind: 'unknown'; code: string; redemption: Redemption };

export type StateKind = CashierState['kind'];

/** What caused a validation attempt. Only an explicit Enter may retry a failed call. */
export type Trigger = 'enter' | 'paste' | 'blur';

export interface Snapshot {
  state: CashierState;
  /** The code field's text, exactly as typed or scanned. */
  text: string;
  redeemInFlight: boolean;
}

/** The two backend calls the machine needs; injected so tests can use fakes. */
export interface VoucherBackend {
  validate(provider: string, code: string): Promise<Validation>;
  redeem(provider: string, code: string): Promise<Redemption>;
}

/** Scanners and copy-paste often bring stray spaces or a trailing newline. */
export function normalizeCode(raw: string): string {
  return raw.trim();
}

/** States whose result belongs to a specific code; editing the code invalidates them. */
function codeOf(state: CashierState): string | null {
  return state.kind === 'idle' ? null : state.code;
}

/** Frozen states: the field is read-only until the cashier acknowledges the outcome. */
export function isLocked(kind: StateKind): boolean {
  return kind === 'redeeming' || kind === 'success' || kind === 'unknown';
}

export function shouldValidate(state: CashierState, code: string, trigger: Trigger): boolean {
  if (code === '') return false;
  if (isLocked(state.kind)) return false;
  if (state.kind === 'idle' || state.code !== code) return true;
  // Same, unchanged code: an answer is already shown or on its way. A failed call
  // gave no answer, so a deliberate Enter may retry it; blur and paste never do,
  // otherwise every focus change would hammer a struggling backend.
  return state.kind === 'error' && trigger === 'enter';
}

export function canRedeem(state: CashierState, code: string, inFlight: boolean): boolean {
  return (
    !inFlight &&
    state.kind === 'valid' &&
    state.validation.valid &&
    state.code === code &&
    code !== ''
  );
}

export type KeyAction = 'validate' | 'redeem' | 'clear' | 'next' | 'swallow' | null;

export interface KeyContext {
  key: string;
  repeat: boolean;
  /** Whether the keystroke was aimed at the voucher code field. */
  inCodeField: boolean;
  kind: StateKind;
}

/**
 * Maps a key press in the cashier screen to an action (F2 belongs to the app shell). `null` means "not ours, let the browser handle it";
 * `swallow` means "ours, but do nothing" (the browser default would be harmful).
 */
export function keyAction({ key, repeat, inCodeField, kind }: KeyContext): KeyAction {
  switch (key) {
    case 'F9':
      // A held-down key must not turn into a second redemption attempt.
      return repeat ? 'swallow' : 'redeem';
    case 'Escape':
      if (kind === 'success' || kind === 'unknown') return 'next';
      if (kind === 'redeeming') return 'swallow';
      return 'clear';
    case 'Enter':
      if (repeat) return 'swallow';
      if (kind === 'success' || kind === 'unknown') return 'next';
      if (kind === 'redeeming') return 'swallow';
      // Scanners end every scan with Enter, so Enter in the code field may only
      // ever validate. It is never mapped to 'redeem', anywhere.
      return inCodeField ? 'validate' : null;
    default:
      return null;
  }
}

export class Cashier {
  #state: CashierState = { kind: 'idle' };
  #text = '';
  #provider: string;
  // Bumped whenever the code or context changes; a validation answer carrying an
  // older ticket belongs to a code the cashier has moved on from.
  #ticket = 0;
  #redeemInFlight = false;
  readonly #backend: VoucherBackend;
  readonly #onChange: (snapshot: Snapshot) => void;
  readonly #onRedeemSettled: () => void;

  constructor(
    backend: VoucherBackend,
    provider: string,
    onChange: (snapshot: Snapshot) => void = () => {},
    onRedeemSettled: () => void = () => {},
  ) {
    this.#backend = backend;
    this.#provider = provider;
    this.#onChange = onChange;
    this.#onRedeemSettled = onRedeemSettled;
  }

  get snapshot(): Snapshot {
    return { state: this.#state, text: this.#text, redeemInFlight: this.#redeemInFlight };
  }

  get state(): CashierState {
    return this.#state;
  }

  get text(): string {
    return this.#text;
  }

  get provider(): string {
    return this.#provider;
  }

  get canRedeem(): boolean {
    return canRedeem(this.#state, normalizeCode(this.#text), this.#redeemInFlight);
  }

  #emit(): void {
    this.#onChange(this.snapshot);
  }

  #set(state: CashierState): void {
    this.#state = state;
    this.#emit();
  }

  /** The code field's text changed (typing, scanning, pasting). */
  input(raw: string): void {
    if (isLocked(this.#state.kind)) return;
    this.#text = raw;
    const owner = codeOf(this.#state);
    if (owner !== null && owner !== normalizeCode(raw)) {
      this.#ticket++;
      this.#state = { kind: 'idle' };
    }
    this.#emit();
  }

  async validate(trigger: Trigger): Promise<void> {
    const code = normalizeCode(this.#text);
    if (!shouldValidate(this.#state, code, trigger)) return;
    const ticket = ++this.#ticket;
    this.#set({ kind: 'checking', code });
    try {
      const validation = await this.#backend.validate(this.#provider, code);
      if (ticket !== this.#ticket) return;
      this.#set(
        validation.valid
          ? { kind: 'valid', code, validation }
          : { kind: 'invalid', code, validation },
      );
    } catch (err) {
      if (ticket !== this.#ticket) return;
      this.#set({ kind: 'error', code, error: toApiError(err), during: 'validate' });
    }
  }

  /** Returns true when a redeem call was actually made. */
  async redeem(): Promise<boolean> {
    const code = normalizeCode(this.#text);
    const state = this.#state;
    if (!canRedeem(state, code, this.#redeemInFlight) || state.kind !== 'valid') return false;
    // Set synchronously, before any await, so a second click in the same tick is refused.
    this.#redeemInFlight = true;
    this.#ticket++;
    this.#set({ kind: 'redeeming', code, validation: state.validation });
    try {
      const redemption = await this.#backend.redeem(this.#provider, code);
      // No staleness check here: money may have moved, so the outcome is always shown.
      // Anything other than a clear "completed" is treated as unknown: never tell a
      // cashier to hand over goods on a guess.
      this.#state =
        redemption.state === 'completed'
          ? { kind: 'success', code, redemption }
          : { kind: 'unknown', code, redemption };
    } catch (err) {
      this.#state = { kind: 'error', code, error: toApiError(err), during: 'redeem' };
    } finally {
      this.#redeemInFlight = false;
    }
    this.#emit();
    this.#onRedeemSettled();
    return true;
  }

  /** Esc: drop the current code. Refused mid-redemption. */
  clear(): boolean {
    if (this.#state.kind === 'redeeming') return false;
    this.#ticket++;
    this.#text = '';
    this.#set({ kind: 'idle' });
    return true;
  }

  /** "Next customer": acknowledge a finished redemption and start afresh. */
  next(): boolean {
    if (this.#state.kind !== 'success' && this.#state.kind !== 'unknown') return false;
    return this.clear();
  }

  /** New cashier or provider: nothing from before may leak into the new context. */
  reset(provider: string = this.#provider): void {
    if (this.#redeemInFlight) return;
    this.#provider = provider;
    this.clear();
  }
}
