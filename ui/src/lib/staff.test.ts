import { describe, expect, it } from 'vitest';
import { checkNewPin, lockedText } from './staff';

describe('checkNewPin', () => {
  it('accepts 4 to 12 digits typed twice', () => {
    expect(checkNewPin('4821', '4821')).toBeNull();
    expect(checkNewPin('123456789012', '123456789012')).toBeNull();
  });

  it('refuses short, long or non-digit PINs', () => {
    for (const bad of ['', '123', '1234567890123', '12a4', ' 1234']) {
      expect(checkNewPin(bad, bad)).toMatch(/4 to 12 digits/);
    }
  });

  it('refuses two different PINs', () => {
    expect(checkNewPin('4821', '4812')).toMatch(/differ/);
  });
});

describe('lockedText', () => {
  const now = new Date('2026-11-25T10:00:00Z');

  it('is null when not locked or the lock has passed', () => {
    expect(lockedText(null, now)).toBeNull();
    expect(lockedText('2026-11-25T09:59:00Z', now)).toBeNull();
    expect(lockedText('garbage', now)).toBeNull();
  });

  it('names the time while locked', () => {
    expect(lockedText('2026-11-25T10:05:00Z', now)).toMatch(/^Locked until /);
  });
});
