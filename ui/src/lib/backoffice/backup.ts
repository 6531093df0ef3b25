// Backups on screen, kept out of the components so they are tested: the
// Audit tab's "Back up now" and the line under a Z close.
import type { BackupMade, BackupOutcome } from '../../types';

const count = (n: number, one: string, many: string): string =>
  `${n.toLocaleString('en-GB')} ${n === 1 ? one : many}`;

/** What the Audit tab shows about the last backup asked for. */
export interface BackupView {
  running: boolean;
  ok: boolean;
  headline: string;
  /** The file made; none when the backup failed. */
  path: string | null;
  lines: string[];
}

export const RUNNING: BackupView = { running: true, ok: false, headline: 'Backing up…', path: null, lines: [] };

export function madeView(made: BackupMade): BackupView {
  const lines = [
    `${count(made.transactions, 'transaction', 'transactions')} and ${count(made.audit_rows, 'audit row', 'audit rows')}, checked`,
    `Audit head: row ${made.head.seq}, hash ${made.head.hash}`,
  ];
  if (made.pruned.length > 0) {
    lines.push(`${count(made.pruned.length, 'older backup', 'older backups')} of this till deleted`);
  }
  if (made.prune_error) lines.push(`An older backup could not be deleted: ${made.prune_error}`);
  return { running: false, ok: true, headline: 'Backed up', path: made.path, lines };
}

export function failedView(message: string): BackupView {
  return { running: false, ok: false, headline: 'No backup was made', path: null, lines: [message] };
}

/** The one line under a Z close: where the backup went, or why there is none. */
export function closeBackupLine(outcome: BackupOutcome | null): { ok: boolean; text: string } | null {
  if (outcome === null) return null;
  if (outcome.status === 'made') return { ok: true, text: `Backed up to ${outcome.path}` };
  return { ok: false, text: `The backup after the close failed: ${outcome.message}` };
}

/**
 * Backs up one at a time: a second press while a backup runs sends nothing.
 * `show` gets the running state, then the result or the error in plain words.
 */
export function backerUpper(
  send: () => Promise<BackupMade>,
  errorMessage: (err: unknown) => string,
  show: (view: BackupView) => void,
): () => Promise<void> {
  let running = false;
  return async () => {
    if (running) return;
    running = true;
    show(RUNNING);
    try {
      show(madeView(await send()));
    } catch (err) {
      show(failedView(errorMessage(err)));
    } finally {
      running = false;
    }
  };
}
