// Per-provider status on the cashier screen (DESIGN.md invariant 10): a
// voucher is honoured only with its provider online, so the till says
// plainly which provider cannot be reached, since when, and keeps checking.
import type { ProviderHealth } from '../types';
import { localTime } from './format';

/** How often the providers are probed while someone is signed in. */
export const HEALTH_INTERVAL_MS = 30_000;

export type HealthMap = Readonly<Record<string, ProviderHealth>>;

export function healthMap(list: readonly ProviderHealth[]): HealthMap {
  return Object.fromEntries(list.map((h) => [h.provider, h]));
}

/** The banner over a provider's panel, or null when there is nothing to warn of. */
export function bannerText(h: ProviderHealth | undefined): string | null {
  if (h?.reach !== 'down') return null;
  const why = h.message ?? `${h.name} cannot be reached`;
  return h.since ? `${why} (since ${localTime(h.since)}).` : `${why}.`;
}

/** A tab's tooltip and screen-reader text. */
export function tabStatus(h: ProviderHealth | undefined): string {
  if (h === undefined || h.reach === 'unknown') return 'Not checked yet';
  if (h.reach === 'up') return h.checked_at ? `Online (checked ${localTime(h.checked_at)})` : 'Online';
  return h.since ? `Cannot be reached since ${localTime(h.since)}` : 'Cannot be reached';
}

/** Timers, injected so tests control them. */
export interface Ticker {
  every(ms: number, run: () => void): () => void;
}

export const realTicker: Ticker = {
  every(ms, run) {
    const id = setInterval(run, ms);
    return () => clearInterval(id);
  },
};

/**
 * Probes on start, every `HEALTH_INTERVAL_MS`, and when asked (a provider was
 * found unreachable mid-sale). One probe at a time: a slow network must not
 * stack them up over a long shift.
 */
export class HealthWatch {
  #inFlight = false;
  #again = false;
  #stop: (() => void) | null = null;

  constructor(
    private readonly fetch: (refresh: boolean) => Promise<ProviderHealth[]>,
    private readonly onChange: (health: HealthMap) => void,
    private readonly ticker: Ticker = realTicker,
  ) {}

  start(): void {
    if (this.#stop !== null) return;
    this.#stop = this.ticker.every(HEALTH_INTERVAL_MS, () => void this.refresh());
    void this.refresh();
  }

  stop(): void {
    this.#stop?.();
    this.#stop = null;
  }

  get running(): boolean {
    return this.#stop !== null;
  }

  async refresh(): Promise<void> {
    if (this.#inFlight) {
      // Asked while a probe runs: one more after it, never a pile.
      this.#again = true;
      return;
    }
    this.#inFlight = true;
    try {
      const list = await this.fetch(true);
      if (this.#stop !== null) this.onChange(healthMap(list));
    } catch {
      // Not signed in any more, or the backend is busy: the next tick tries again.
    } finally {
      this.#inFlight = false;
    }
    if (this.#again && this.#stop !== null) {
      this.#again = false;
      await this.refresh();
    }
  }
}
