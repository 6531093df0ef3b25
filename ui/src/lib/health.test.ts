import { describe, expect, it } from 'vitest';
import type { ProviderHealth } from '../types';
import { HEALTH_INTERVAL_MS, HealthWatch, bannerText, healthMap, tabStatus, type HealthMap, type Ticker } from './health';

const at = (h: number, m: number): string => new Date(2026, 10, 25, h, m).toISOString();

function health(reach: ProviderHealth['reach'], extra: Partial<ProviderHealth> = {}): ProviderHealth {
  return { provider: 'giftpesa', name: 'GiftPesa', reach, since: null, checked_at: null, message: null, ...extra };
}

describe('banner and tab texts', () => {
  it('warns only of a provider that is down, with the time it went down', () => {
    expect(bannerText(undefined)).toBeNull();
    expect(bannerText(health('up'))).toBeNull();
    expect(bannerText(health('unknown'))).toBeNull();
    const down = health('down', { since: at(14, 2), message: 'GiftPesa cannot be reached: check the connection' });
    expect(bannerText(down)).toBe('GiftPesa cannot be reached: check the connection (since 14:02).');
    expect(bannerText(health('down'))).toBe('GiftPesa cannot be reached.');
  });

  it('says on each tab whether its provider answered', () => {
    expect(tabStatus(undefined)).toBe('Not checked yet');
    expect(tabStatus(health('up', { checked_at: at(9, 30) }))).toBe('Online (checked 09:30)');
    expect(tabStatus(health('down', { since: at(14, 2) }))).toBe('Cannot be reached since 14:02');
  });

  it('keys the list by provider', () => {
    const map = healthMap([health('up'), health('down', { provider: 'pesapal', name: 'Pesapal' })]);
    expect(Object.keys(map).sort()).toEqual(['giftpesa', 'pesapal']);
    expect(map.pesapal?.reach).toBe('down');
  });
});

class FakeTicker implements Ticker {
  runs: (() => void)[] = [];
  interval = 0;
  every(ms: number, run: () => void): () => void {
    this.interval = ms;
    this.runs.push(run);
    return () => (this.runs = this.runs.filter((r) => r !== run));
  }
  tick(): void {
    this.runs.forEach((r) => r());
  }
}

/** A backend whose answers the test releases one at a time. */
function backend() {
  const pending: ((list: ProviderHealth[]) => void)[] = [];
  let calls = 0;
  return {
    fetch: (refresh: boolean): Promise<ProviderHealth[]> => {
      expect(refresh).toBe(true);
      calls++;
      return new Promise((resolve) => pending.push(resolve));
    },
    answer: async (list: ProviderHealth[]) => {
      pending.shift()!(list);
      await new Promise((r) => setTimeout(r, 0));
    },
    get calls() {
      return calls;
    },
    get waiting() {
      return pending.length;
    },
  };
}

describe('HealthWatch', () => {
  it('probes at once, then on every tick, and stops', async () => {
    const b = backend();
    const ticker = new FakeTicker();
    const seen: HealthMap[] = [];
    const watch = new HealthWatch(b.fetch, (h) => seen.push(h), ticker);
    watch.start();
    expect(ticker.interval).toBe(HEALTH_INTERVAL_MS);
    expect(b.calls).toBe(1);
    await b.answer([health('up')]);
    expect(seen).toHaveLength(1);
    ticker.tick();
    expect(b.calls).toBe(2);
    await b.answer([health('down')]);
    expect(seen[1]?.giftpesa?.reach).toBe('down');
    watch.stop();
    ticker.tick();
    expect(b.calls).toBe(2);
    expect(watch.running).toBe(false);
  });

  it('never stacks probes: asks made during one become a single one after it', async () => {
    const b = backend();
    const ticker = new FakeTicker();
    const watch = new HealthWatch(b.fetch, () => {}, ticker);
    watch.start();
    ticker.tick();
    void watch.refresh();
    void watch.refresh();
    expect(b.calls).toBe(1);
    await b.answer([health('up')]);
    expect(b.calls).toBe(2);
    await b.answer([health('up')]);
    expect(b.calls).toBe(2);
    expect(b.waiting).toBe(0);
  });

  it('drops an answer that arrives after it was stopped, and survives a failed probe', async () => {
    const seen: HealthMap[] = [];
    const b = backend();
    const watch = new HealthWatch(b.fetch, (h) => seen.push(h), new FakeTicker());
    watch.start();
    watch.stop();
    await b.answer([health('down')]);
    expect(seen).toHaveLength(0);

    const failing = new HealthWatch(() => Promise.reject(new Error('signed out')), (h) => seen.push(h), new FakeTicker());
    failing.start();
    await failing.refresh();
    expect(seen).toHaveLength(0);
    expect(failing.running).toBe(true);
  });
});
