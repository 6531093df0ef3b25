// Staff rules the screens check before asking the backend, which checks
// them again: a PIN is 4 to 12 digits.

export const PIN_PATTERN = /^[0-9]{4,12}$/;

/** Why a new PIN can't be used, or null when it can. */
export function checkNewPin(pin: string, confirm: string): string | null {
  if (!PIN_PATTERN.test(pin)) return 'A PIN is 4 to 12 digits.';
  if (pin !== confirm) return 'The two PINs differ: type the same PIN twice.';
  return null;
}

/** "locked until 2026-11-25T10:05:00Z" reads as a local time. */
export function lockedText(lockedUntil: string | null, now: Date = new Date()): string | null {
  if (lockedUntil === null) return null;
  const until = new Date(lockedUntil);
  if (Number.isNaN(until.getTime()) || until <= now) return null;
  return `Locked until ${until.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}`;
}
