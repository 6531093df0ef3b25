import { describe, expect, it, vi } from 'vitest';
import type { BackupMade } from '../../types';
import { backerUpper, type BackupView, closeBackupLine, failedView, madeView, RUNNING } from './backup';

const hash = 'ab'.repeat(32);

function made(extra: Partial<BackupMade> = {}): BackupMade {
  return {
    path: '/media/usb/kaunta-TILL-1-20261125T180405Z.sqlite3',
    bytes: 81920,
    schema_version: 7,
    transactions: 1234,
    audit_rows: 1,
    head: { seq: 5678, hash },
    made_at: '2026-11-25T18:04:05.000Z',
    millis: 40,
    pruned: [],
    prune_error: null,
    ...extra,
  };
}

describe('the Audit tab', () => {
  it('shows the file, the counts and the head of a backup made', () => {
    expect(madeView(made())).toEqual({
      running: false,
      ok: true,
      headline: 'Backed up',
      path: '/media/usb/kaunta-TILL-1-20261125T180405Z.sqlite3',
      lines: ['1,234 transactions and 1 audit row, checked', `Audit head: row 5678, hash ${hash}`],
    });
  });

  it('says what pruning deleted, and what it could not', () => {
    const view = madeView(made({ transactions: 1, pruned: ['/a', '/b'], prune_error: '/c could not be deleted' }));
    expect(view.lines[0]).toBe('1 transaction and 1 audit row, checked');
    expect(view.lines.slice(2)).toEqual([
      '2 older backups of this till deleted',
      'An older backup could not be deleted: /c could not be deleted',
    ]);
  });

  it('shows an error in plain words, with no file', () => {
    const message = 'The backup folder /media/usb does not exist: plug in the backup drive';
    expect(failedView(message)).toEqual({
      running: false,
      ok: false,
      headline: 'No backup was made',
      path: null,
      lines: [message],
    });
  });

  it('backs up once for a double press, and again once the first is done', async () => {
    let finish: (m: BackupMade) => void = () => {};
    const send = vi.fn(() => new Promise<BackupMade>((resolve) => (finish = resolve)));
    const views: BackupView[] = [];
    const backUp = backerUpper(send, String, (v) => views.push(v));
    const first = backUp();
    await backUp();
    expect(send).toHaveBeenCalledTimes(1);
    expect(views).toEqual([RUNNING]);
    finish(made());
    await first;
    expect(views.at(-1)?.ok).toBe(true);
    const second = backUp();
    expect(send).toHaveBeenCalledTimes(2);
    finish(made());
    await second;
  });

  it('turns a refusal into its message', async () => {
    const views: BackupView[] = [];
    const refusal = { code: 'backup_dir_unwritable', message: 'Kaunta cannot write to the backup folder /media/usb' };
    const send = vi.fn().mockRejectedValue(refusal);
    await backerUpper(send, (e) => (e as { message: string }).message, (v) => views.push(v))();
    expect(views).toEqual([RUNNING, failedView(refusal.message)]);
  });
});

describe('the line under a Z close', () => {
  it('says where the backup went, why there is none, or nothing when backups at close are off', () => {
    expect(closeBackupLine({ status: 'made', ...made() })).toEqual({
      ok: true,
      text: 'Backed up to /media/usb/kaunta-TILL-1-20261125T180405Z.sqlite3',
    });
    expect(closeBackupLine({ status: 'failed', code: 'backup_dir_missing', message: 'The backup folder is gone' })).toEqual({
      ok: false,
      text: 'The backup after the close failed: The backup folder is gone',
    });
    expect(closeBackupLine(null)).toBeNull();
  });
});
