// Pure logic of the Shifts tab: labels, grouping and warnings. Amounts come
// formatted from the backend (MoneyView.display); nothing is summed here.
import type { CurrencyLine, GroupLine, ReceiptView, ShiftReport, ShiftReprinted, ShiftRow } from '../../types';

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** RFC 3339 UTC → local "25 Nov 2026 08:00" (a shift may span midnight). */
export function localDateTime(rfc3339: string | null): string {
  if (!rfc3339) return '—';
  const d = new Date(rfc3339);
  if (Number.isNaN(d.getTime())) return rfc3339;
  const month = d.toLocaleString('en-GB', { month: 'short' });
  return `${d.getDate()} ${month} ${d.getFullYear()} ${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}

export function operationLabel(operation: string): string {
  switch (operation) {
    case 'redeem':
      return 'Vouchers redeemed';
    case 'checkout':
      return 'Payments taken';
    case 'create_voucher':
      return 'Vouchers created';
    case 'payout':
      return 'Payouts';
    default:
      return operation;
  }
}

/** "KES · Vouchers redeemed", with "(training)" on a training till's training lines. */
export function currencyHeading(line: Pick<CurrencyLine, 'currency' | 'operation' | 'training'>): string {
  const heading = `${line.currency ?? 'No amount'} · ${operationLabel(line.operation)}`;
  return line.training ? `${heading} (training)` : heading;
}

export function shiftSummary(shift: ShiftRow): string {
  const opened = `Opened by ${shift.opened_by} on ${localDateTime(shift.opened_at)}`;
  if (!shift.closed_at) return opened;
  return `${opened}; closed by ${shift.closed_by ?? '?'} on ${localDateTime(shift.closed_at)}`;
}

/** Transactions still pending or unknown in the report. */
export function openCount(report: ShiftReport): number {
  return report.by_currency.reduce((n, c) => n + c.open_count, 0);
}

/** What the manager should know before closing on this X report. */
export function closeWarning(report: ShiftReport | null): string | null {
  const open = report ? openCount(report) : 0;
  if (open === 0) return null;
  const what = open === 1 ? '1 transaction is' : `${open} transactions are`;
  return `${what} still pending or unknown: the Z report will count them as open. Resolve them first if you can.`;
}

export interface ProviderBlock {
  key: string;
  title: string;
  rows: GroupLine[];
}

/** Provider × operation × currency blocks, each listing its states, in the backend's order. */
export function providerBlocks(lines: GroupLine[]): ProviderBlock[] {
  const blocks: ProviderBlock[] = [];
  for (const line of lines) {
    const key = [line.training, line.currency ?? '', line.provider, line.operation].join('|');
    let block = blocks.find((b) => b.key === key);
    if (!block) {
      const currency = line.currency ? ` · ${line.currency}` : '';
      const training = line.training ? ' (training)' : '';
      block = { key, title: `${line.provider_name} · ${operationLabel(line.operation)}${currency}${training}`, rows: [] };
      blocks.push(block);
    }
    block.rows.push(line);
  }
  return blocks;
}

/** Where the report's PDF went. */
export function deliveryText(delivery: ReceiptView | null): string {
  if (!delivery) return 'Not saved';
  if (!delivery.path) return `Not saved: ${delivery.print_error ?? 'unknown error'}`;
  const main = delivery.printed
    ? `Printed${delivery.printer ? ` on ${delivery.printer}` : ''}; saved as PDF`
    : 'Saved as PDF';
  return delivery.print_error ? `${main} (printer problem: ${delivery.print_error})` : main;
}

export function reportTitle(report: ShiftReport): string {
  return report.kind === 'z' ? 'Z report — shift closed' : 'X report — running';
}

/** Only a closed shift has a Z report to print again. */
export function canReprint(shift: ShiftRow): boolean {
  return shift.closed_at !== null;
}

/** What the Recent shifts panel says about the last reprint asked for. */
export interface ReprintView {
  shiftId: string;
  pending: boolean;
  /** Where the copy went, or why there is none. */
  text: string | null;
  path: string | null;
  /** The copy was refused, or not saved or printed as asked. */
  failed: boolean;
}

export function reprintResult(shiftId: string, result: ShiftReprinted): ReprintView {
  const delivery = result.delivery;
  return {
    shiftId,
    pending: false,
    text: `Z report reprinted (marked REPRINT): ${deliveryText(delivery)}`,
    path: delivery.path || null,
    failed: delivery.print_error !== null || !delivery.path,
  };
}

/**
 * Reprints one shift's Z report at a time: a second press (or a press on
 * another shift) while a copy is on its way sends nothing, so a double click
 * never prints two copies. `show` gets the pending state, then the result.
 */
export function reprinter(
  send: (shiftId: string) => Promise<ShiftReprinted>,
  errorMessage: (err: unknown) => string,
  show: (view: ReprintView) => void,
): (shiftId: string) => Promise<void> {
  let pending = false;
  return async (shiftId: string) => {
    if (pending) return;
    pending = true;
    show({ shiftId, pending: true, text: null, path: null, failed: false });
    try {
      show(reprintResult(shiftId, await send(shiftId)));
    } catch (err) {
      show({ shiftId, pending: false, text: errorMessage(err), path: null, failed: true });
    } finally {
      pending = false;
    }
  };
}
