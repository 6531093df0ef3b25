// The only place that talks to the Rust backend. Everything else imports these
// typed wrappers so a contract change is a one-file change.
import { Channel, invoke } from '@tauri-apps/api/core';
import { listen } from '@tauri-apps/api/event';
import type {
  ApiError,
  AppInfo,
  CheckoutStarted,
  CheckoutStatus,
  ClaimResult,
  CredentialStatus,
  ProviderHealth,
  Denomination,
  GiftPesaInput,
  GiftPesaMerchant,
  GiftPesaSettings,
  IpnMethod,
  IpnSettings,
  PesapalCallback,
  PesapalCheckoutInput,
  Balance,
  Payout,
  PayoutCorridor,
  PayoutInput,
  Recheck,
  Redemption,
  ShiftClosed,
  ShiftReportOutcome,
  ShiftReprinted,
  ShiftRow,
  Role,
  StaffChange,
  StaffMember,
  TransactionRow,
  Validation,
} from './types';
import type {
  AuditVerification,
  BackupMade,
  DailyTotals,
  ExportedFile,
  HistoryCursor,
  HistoryFilter,
  HistoryReportFile,
  HistoryTotals,
  HistoryView,
  Progress,
  ReceiptView,
  TransactionDetail,
} from './types';

const FALLBACK_MESSAGE = 'Something went wrong. Please try again.';

/**
 * Turns whatever a rejected promise carried into `{ code, message }`, so the UI
 * never has to guess. Idempotent: an ApiError passes through unchanged.
 */
export function toApiError(err: unknown): ApiError {
  if (typeof err === 'string') {
    return { code: 'internal', message: err.trim() || FALLBACK_MESSAGE };
  }
  if (err !== null && typeof err === 'object') {
    const rec = err as Record<string, unknown>;
    const message = typeof rec.message === 'string' && rec.message.trim() ? rec.message : FALLBACK_MESSAGE;
    const code = typeof rec.code === 'string' && rec.code ? rec.code : 'internal';
    return { code, message };
  }
  return { code: 'internal', message: FALLBACK_MESSAGE };
}

function hasBackend(): boolean {
  // Checks the IPC bridge itself rather than `isTauri()`, so that @tauri-apps/api/mocks
  // (which only installs the bridge) also counts as a backend.
  const internals = (globalThis as { __TAURI_INTERNALS__?: { invoke?: unknown } }).__TAURI_INTERNALS__;
  return typeof internals?.invoke === 'function';
}

/**
 * Dispatched on `window` when an answer says the session changed under the
 * screen (`manager_required`: the manager's approval lapsed; `signed_out`:
 * the person is no longer on the staff list). The detail is the code.
 */
export const SESSION_EVENT = 'kaunta:session';

/**
 * Dispatched on `window` when an answer says a provider could not be
 * reached, so the screen's per-provider status is checked again at once.
 */
export const PROVIDER_DOWN_EVENT = 'kaunta:provider-down';

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  // Without this, opening the page in a plain browser fails with an opaque
  // "cannot read properties of undefined" from deep inside @tauri-apps/api.
  if (!hasBackend()) {
    throw { code: 'no_backend', message: 'Kaunta must be opened as the desktop app.' } satisfies ApiError;
  }
  try {
    return await invoke<T>(cmd, args);
  } catch (err) {
    const error = toApiError(err);
    if (error.code === 'manager_required' || error.code === 'signed_out') {
      globalThis.dispatchEvent?.(new CustomEvent(SESSION_EVENT, { detail: error.code }));
    }
    if (error.code === 'provider_unreachable') {
      globalThis.dispatchEvent?.(new CustomEvent(PROVIDER_DOWN_EVENT, { detail: cmd }));
    }
    throw error;
  }
}

export const appInfo = (): Promise<AppInfo> => call('app_info');

/** Each provider's status; `refresh` probes them now (a few seconds at most). */
export const providerHealth = (refresh = false): Promise<ProviderHealth[]> => call('provider_health', { refresh });

export const signIn = (name: string, pin: string): Promise<AppInfo> => call('sign_in', { name, pin });

export const createFirstManager = (name: string, pin: string): Promise<AppInfo> =>
  call('create_first_manager', { name, pin });

export const signOut = (): Promise<AppInfo> => call('sign_out');

export const managerUnlock = (name: string, pin: string): Promise<AppInfo> => call('manager_unlock', { name, pin });

export const managerLock = (): Promise<AppInfo> => call('manager_lock');

export const staffList = (): Promise<StaffMember[]> => call('staff_list');

export const staffAdd = (name: string, role: Role, pin: string): Promise<StaffMember> =>
  call('staff_add', { name, role, pin });

export const staffChange = (name: string, change: StaffChange): Promise<StaffMember> =>
  call('staff_change', { name, change });

export const unknownList = (): Promise<TransactionRow[]> => call('unknown_list');

export const unknownRecheck = (): Promise<Recheck> => call('unknown_recheck');

export const resolveTransaction = (id: string, outcome: 'completed' | 'failed', reason: string): Promise<TransactionRow> =>
  call('resolve_transaction', { id, outcome, reason });

export const refundVoucher = (email: string, amount: string, message: string | null): Promise<Redemption> =>
  call('refund_voucher', { email, amount, message });

export const validateVoucher = (provider: string, code: string): Promise<Validation> =>
  call('validate_voucher', { provider, code });

export const redeemVoucher = (provider: string, code: string): Promise<Redemption> =>
  call('redeem_voucher', { provider, code });

export const recentTransactions = (): Promise<TransactionRow[]> => call('recent_transactions');

export const credentialsStatus = (): Promise<CredentialStatus[]> => call('credentials_status');

export const setCredentials = (
  provider: string,
  values: Record<string, string>,
): Promise<CredentialStatus[]> => call('set_credentials', { provider, values });

// Telesend gift vouchers: claim (SMS code to the owner), then redeem with that code.

/** `amount` in ETB as typed, or null for the whole voucher. Again for the same code = resend. */
export const telesendClaim = (code: string, amount: string | null): Promise<ClaimResult> =>
  call('telesend_claim', { code, amount });

/** `verificationCode` null: anonymous voucher, redeemed whole without an SMS code. */
export const telesendRedeem = (code: string, verificationCode: string | null): Promise<Redemption> =>
  call('telesend_redeem', { code, verificationCode });

export const telesendCancel = (code: string): Promise<boolean> => call('telesend_cancel', { code });

export const telesendDenominations = (): Promise<Denomination[]> => call('telesend_denominations');

// GiftPesa: a customer's gift balance redeemed at the store's M-Pesa till, in one call.

export const giftpesaRedeem = (input: GiftPesaInput): Promise<Redemption> => call('giftpesa_redeem', { input });

export const giftpesaSettings = (): Promise<GiftPesaSettings> => call('giftpesa_settings');

/** Also the connection check after the credentials are entered. */
export const giftpesaMerchants = (): Promise<GiftPesaMerchant[]> => call('giftpesa_merchants');

/** `contents`: the text of the key.crt the manager picked. */
export const giftpesaImportCertificate = (contents: string): Promise<GiftPesaSettings> =>
  call('giftpesa_import_certificate', { contents });

// Pesapal checkout: the backend submits the order and opens Pesapal's payment page
// in its own window; the till then waits for the payment's final status.

export const pesapalCheckout = (input: PesapalCheckoutInput): Promise<CheckoutStarted> =>
  call('pesapal_checkout', { input });

/** Long poll: answers within about 20 s, final or not. */
export const pesapalWait = (transactionId: string): Promise<CheckoutStatus> =>
  call('pesapal_wait', { transactionId });

/** The current status at once, no waiting. */
export const pesapalStatus = (transactionId: string): Promise<CheckoutStatus> =>
  call('pesapal_status', { transactionId });

/** Closes the checkout window; the order stays open and queryable. */
export const pesapalStopWaiting = (transactionId: string): Promise<null> =>
  call('pesapal_stop_waiting', { transactionId });

export const pesapalIpnList = (): Promise<IpnSettings> => call('pesapal_ipn_list');

export const pesapalIpnRegister = (url: string, method: IpnMethod): Promise<IpnSettings> =>
  call('pesapal_ipn_register', { url, method });

export const pesapalIpnChoose = (ipnId: string): Promise<IpnSettings> => call('pesapal_ipn_choose', { ipnId });

export const PESAPAL_CALLBACK_EVENT = 'pesapal-callback';

/**
 * Calls `handler` whenever the checkout window reaches the callback page. Resolves
 * to the function that stops listening; never rejects (without a backend, or if
 * the event bridge is missing, there is nothing to hear and the long poll still works).
 */
export async function onPesapalCallback(handler: (payload: PesapalCallback) => void): Promise<() => void> {
  if (!hasBackend()) return () => {};
  try {
    return await listen<PesapalCallback>(PESAPAL_CALLBACK_EVENT, (event) => handler(event.payload));
  } catch {
    return () => {};
  }
}

export const shiftCurrent = (): Promise<ShiftRow | null> => call('shift_current');

export const shiftOpen = (): Promise<ShiftRow> => call('shift_open');

/** The running shift's X report; `print` also saves (and prints) its PDF. */
export const shiftXReport = (print = false): Promise<ShiftReportOutcome> => call('shift_x_report', { print });

/** Managers only: closes the shift; the Z report and where its PDF went. */
export const shiftClose = (): Promise<ShiftClosed> => call('shift_close');

/** Managers only: a closed shift's Z report again, from the figures its close kept, marked REPRINT. */
export const shiftReprintZ = (shiftId: string): Promise<ShiftReprinted> => call('shift_reprint_z', { shiftId });

export const shiftList = (limit = 50): Promise<ShiftRow[]> => call('shift_list', { limit });

// Back office: History and Audit (managers only; every look is in the audit log).

/** No cursor: the first page, with the filter's totals and daily chart. */
export const historyPage = (
  filter: HistoryFilter,
  after: HistoryCursor | null = null,
  limit = 50,
): Promise<HistoryView> => call('history_page', { filter, after, limit });

export const historyTotals = (filter: HistoryFilter): Promise<HistoryTotals> => call('history_totals', { filter });

export const historyDaily = (filter: HistoryFilter): Promise<DailyTotals> => call('history_daily', { filter });

export const transactionDetail = (id: string): Promise<TransactionDetail> => call('transaction_detail', { id });

/** Prints a completed transaction's receipt again, marked REPRINT. */
export const reprintReceipt = (id: string): Promise<ReceiptView> => call('reprint_receipt', { id });

/** Without a backend there is no channel to make (and `call` says why). */
function progressChannel(onProgress: (p: Progress) => void): Channel<Progress> | null {
  if (!hasBackend()) return null;
  const channel = new Channel<Progress>();
  channel.onmessage = onProgress;
  return channel;
}

/** Writes the filter's rows as CSV into Downloads; `onProgress` hears rows written of rows expected. */
export const historyExportCsv = (filter: HistoryFilter, onProgress: (p: Progress) => void): Promise<ExportedFile> =>
  call('history_export_csv', { filter, onProgress: progressChannel(onProgress) });

/** Saves the filter's totals as a PDF report beside the CSV exports. */
export const historyExportPdf = (filter: HistoryFilter): Promise<HistoryReportFile> =>
  call('history_export_pdf', { filter });

/** Walks the audit chain and checks it against the last shift close's anchor. */
export const auditVerify = (onProgress: (p: Progress) => void): Promise<AuditVerification> =>
  call('audit_verify', { onProgress: progressChannel(onProgress) });

/** Managers only: copies the till's database into the backup folder and checks the copy. */
export const backupNow = (): Promise<BackupMade> => call('backup_now');

export const payoutCorridors = (): Promise<PayoutCorridor[]> => call('payout_corridors');

export const bitpesaBalances = (): Promise<Balance[]> => call('bitpesa_balances');

export const payoutStart = (input: PayoutInput): Promise<Payout> => call('payout_start', { input });

export const payoutRefresh = (id: string): Promise<Payout> => call('payout_refresh', { id });

export const payoutCancel = (id: string): Promise<Payout> => call('payout_cancel', { id });

export const payoutRecent = (): Promise<Payout[]> => call('payout_recent');
