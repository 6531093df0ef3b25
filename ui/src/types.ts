// Mirrors the Rust backend's serde types (snake_case on the wire).

export type Environment = 'training' | 'sandbox' | 'live';

export interface ProviderInfo {
  id: string;
  name: string;
}

/** Whether a provider answered its last probe (`unknown`: not probed yet). */
export type Reach = 'unknown' | 'up' | 'down';

export interface ProviderHealth {
  provider: string;
  name: string;
  reach: Reach;
  /** When the current state began (UTC, RFC 3339). */
  since: string | null;
  checked_at: string | null;
  /** For a provider that is down: what the cashier can do about it. */
  message: string | null;
}

export interface AppInfo {
  environment: Environment;
  training: boolean;
  store_name: string;
  till_id: string;
  version: string;
  /** No staff yet: the first person to open the till creates the first manager. */
  needs_first_manager: boolean;
  cashier: string | null;
  role: Role | null;
  /** The manager whose name and PIN opened the back office, while it is open. */
  manager: string | null;
  /** The cashier's providers, one tab each. */
  providers: ProviderInfo[];
  /** Providers only managers use (BitPesa payouts): Settings, not tabs. */
  payout_providers: ProviderInfo[];
}

export type Role = 'cashier' | 'manager';

export interface StaffMember {
  name: string;
  role: Role;
  active: boolean;
  locked_until: string | null;
  created_at: string;
  created_by: string;
}

export interface Recheck {
  settled: TransactionRow[];
  remaining: TransactionRow[];
}

export interface StaffChange {
  pin?: string;
  role?: Role;
  active?: boolean;
}

export interface MoneyView {
  minor: number;
  currency: string;
  /** Preformatted by the backend, e.g. "KES 1,200.50". Always show this, never reformat. */
  display: string;
}

export interface Reason {
  code: string;
  message: string;
}

export interface Validation {
  code_masked: string;
  valid: boolean;
  amount: MoneyView | null;
  customer_name: string | null;
  reasons: Reason[];
}

export interface ReceiptView {
  path: string;
  printed: boolean;
  printer: string | null;
  print_error: string | null;
}

/** `failed` only where the provider's refusal is an outcome, not an error (a refund voucher). */
export type RedemptionState = 'completed' | 'unknown' | 'failed';

export interface Redemption {
  transaction_id: string;
  /** Provider id, e.g. "pesavoucher", "telesend", "giftpesa" or "pesapal". */
  provider: string;
  state: RedemptionState;
  amount: MoneyView | null;
  customer_name: string | null;
  code_masked: string;
  provider_reference: string | null;
  /** The headline to show, e.g. "KES 750.00 redeemed: hand over the goods". */
  message: string;
  receipt: ReceiptView | null;
  training?: boolean;
}

/** Telesend: the SMS code was sent to the voucher's owner; no money has moved yet. */
export interface ClaimResult {
  claim_id: string;
  code_masked: string;
  /** null: the whole remaining value of the voucher. */
  amount: MoneyView | null;
  message: string;
  /** Training mode only: the code the customer's phone would have shown. */
  training_sms_code: string | null;
}

/** Telesend: one gift value the merchant offers. */
export interface Denomination {
  id: number;
  active: boolean;
  amount: MoneyView;
}

/** GiftPesa: what the cashier typed, sent as `giftpesa_redeem({ input })`. */
export interface GiftPesaInput {
  name: string;
  phone: string;
  /** KES, whole shillings, as typed; the backend parses it. */
  amount: string;
  /** null: the store's configured till. */
  till: string | null;
  remarks: string | null;
  /** The cashier confirms a second redemption just after an identical one (`just_redeemed`). */
  confirm_repeat: boolean;
}

export interface GiftPesaSettings {
  /** The M-Pesa till the store's redemptions go to; null when none is configured. */
  till_number: string | null;
  certificate_imported: boolean;
}

/** One entry of GiftPesa's merchant list, PascalCase exactly as GiftPesa's document spells it. */
export interface GiftPesaMerchant {
  MerchantID: string;
  Merchant: string;
  Category: { ID: string; Label: string };
}

/** Pesapal: what the cashier typed, sent as `pesapal_checkout({ input })`. */
export interface PesapalCheckoutInput {
  /** KES as typed; the backend parses it. */
  amount: string;
  description: string;
  /** At least one of phone and email is sent. */
  phone: string | null;
  email: string | null;
  first_name: string | null;
  last_name: string | null;
}

/** A QR code as a grid: `width * width` characters, '1' dark and '0' light, row by row. */
export interface QrMatrix {
  width: number;
  modules: string;
}

/** Pesapal: the order is submitted and the checkout window is open. */
export interface CheckoutStarted {
  transaction_id: string;
  order_tracking_id: string;
  /** Pesapal's payment page; also what the QR code encodes. */
  redirect_url: string;
  amount: MoneyView;
  qr: QrMatrix;
}

export type CheckoutState = 'pending' | 'completed' | 'failed' | 'unknown';

/** Pesapal's own word for the payment, when it has given one. */
export type PesapalPaymentStatus = 'INVALID' | 'COMPLETED' | 'FAILED' | 'REVERSED';

export interface CheckoutStatus {
  transaction_id: string;
  state: CheckoutState;
  status: PesapalPaymentStatus | null;
  /** Pesapal's status description, e.g. "Pending payment". */
  description: string | null;
  payment_method: string | null;
  confirmation_code: string | null;
  /** Masked by Pesapal (card or phone). */
  payment_account: string | null;
  /** Fit to show: for "failed" it says FAILED or REVERSED in plain words. */
  message: string;
  /** Set when `state` is "completed" or "unknown". */
  result: Redemption | null;
}

/** Payload of the `pesapal-callback` event: the checkout window reached the callback page. */
export interface PesapalCallback {
  transaction_id: string;
  url: string;
}

export type IpnMethod = 'GET' | 'POST';

/** One IPN URL registered with Pesapal for these credentials. */
export interface IpnEntry {
  ipn_id: string;
  url: string;
  /** "GET" or "POST". */
  ipn_notification_type_description?: string | null;
  /** e.g. "Active". */
  ipn_status_description?: string | null;
  /** As Pesapal sent it; may be absent. */
  created_date: string | null;
}

export interface IpnSettings {
  /** The ipn_id checkouts are sent with; null until a manager chooses one. */
  chosen: string | null;
  entries: IpnEntry[];
}

export type TransactionState = 'pending' | 'completed' | 'failed' | 'unknown';

export interface TransactionRow {
  id: string;
  /** RFC 3339, UTC. */
  created_at: string;
  cashier: string;
  provider: string;
  code_masked: string;
  amount: MoneyView | null;
  state: TransactionState;
  provider_reference: string | null;
  /** The outcome in words (why it failed, or is unknown). */
  message?: string | null;
  training: boolean;
}

export interface CredentialStatus {
  provider: string;
  environment: string;
  configured: boolean;
  message: string;
}

/** Every command rejects with this shape; `message` is already fit to show a cashier. */
export interface ApiError {
  code: string;
  message: string;
}

/** A shift at this till, as stored. Times are RFC 3339 UTC. */
export interface ShiftRow {
  id: string;
  till_id: string;
  opened_by: string;
  opened_at: string;
  closed_by: string | null;
  closed_at: string | null;
  /** The audit log's last row when the shift closed. */
  audit_head_seq: number | null;
  audit_head_hash: string | null;
}

export type ReportKind = 'x' | 'z';

/** One currency's figures for one operation; amounts in integer minor units, shown via MoneyView. */
export interface CurrencyLine {
  training: boolean;
  currency: string | null;
  operation: string;
  count: number;
  completed_count: number;
  completed_minor: number;
  open_count: number;
  open_minor: number;
  failed_count: number;
  completed: MoneyView | null;
  open: MoneyView | null;
}

/** One provider × operation × state × currency group. */
export interface GroupLine {
  training: boolean;
  currency: string | null;
  provider: string;
  provider_name: string;
  operation: string;
  state: TransactionState;
  count: number;
  amount_minor: number;
  amount: MoneyView | null;
}

export interface CashierLine {
  cashier: string;
  count: number;
  by_currency: CurrencyLine[];
}

/** An X (running) or Z (closing) report: one model for screen, CLI and PDF. */
export interface ShiftReport {
  kind: ReportKind;
  store_name: string;
  shift: ShiftRow;
  /** The end of the period counted: the close (Z) or when it was made (X). */
  until: string;
  /** Training till: training rows counted, in lines of their own. */
  training: boolean;
  count: number;
  by_currency: CurrencyLine[];
  by_provider: GroupLine[];
  by_cashier: CashierLine[];
  audit_head: { seq: number; hash: string } | null;
  /** A copy of a Z report made after the close: who asked, and when (RFC 3339 UTC). */
  reprint: { by: string; at: string } | null;
}

export interface ShiftReportOutcome {
  report: ShiftReport;
  delivery: ReceiptView | null;
}

/** A closed shift's Z report again, from the figures its close kept, and where the copy went. */
export interface ShiftReprinted {
  report: ShiftReport;
  delivery: ReceiptView;
}

export interface ShiftClosed {
  report: ShiftReport;
  delivery: ReceiptView;
  /** The audit head was kept in the keyring. */
  anchored: boolean;
  anchor_error: string | null;
  /** The backup made after the close; null when backups at close are off. */
  backup: BackupOutcome | null;
}

// Backups of the till's database (src-tauri/core/src/backup.rs).

/** A backup file checked: whole, its audit chain intact, and what it holds. */
export interface BackupCheck {
  path: string;
  bytes: number;
  schema_version: number;
  transactions: number;
  audit_rows: number;
  /** The copy's last audit row. */
  head: { seq: number; hash: string };
}

/** A backup made, checked and in place. */
export interface BackupMade extends BackupCheck {
  /** RFC 3339 UTC. */
  made_at: string;
  millis: number;
  /** This till's older backups deleted to keep `[backup] keep`. */
  pruned: string[];
  prune_error: string | null;
}

/** A backup's outcome where the backup is not the point (a Z close). */
export type BackupOutcome = ({ status: 'made' } & BackupMade) | { status: 'failed'; code: string; message: string };

// The back office's History and Audit tabs (src-tauri/src/commands/history.rs).

/** What the manager asked to see; absent fields do not narrow. */
export interface HistoryFilter {
  /** From this local day (YYYY-MM-DD) or instant (RFC 3339), inclusive. */
  since?: string | null;
  /** To this local day, inclusive, or up to this instant, exclusive. */
  until?: string | null;
  provider?: string | null;
  state?: TransactionState | null;
  cashier?: string | null;
  till_id?: string | null;
  /** A fragment of a voucher code, phone or provider reference. */
  search?: string | null;
  include_training?: boolean;
}

/** Where the next page starts (the last row of this one). */
export interface HistoryCursor {
  created_at: string;
  id: string;
}

export interface HistoryRow extends TransactionRow {
  till_id: string;
  /** redeem, create_voucher, checkout or payout. */
  operation: string;
  message: string | null;
}

/** One currency's figures for one operation, in integer minor units. */
export interface CurrencyTotal {
  training: boolean;
  currency: string | null;
  operation: string;
  count: number;
  completed_count: number;
  completed_minor: number;
  /** Pending or unknown: money that may or may not have moved. */
  open_count: number;
  open_minor: number;
  failed_count: number;
}

export interface HistoryTotals {
  count: number;
  by_currency: CurrencyTotal[];
}

/** One day's business of one provider and operation in one currency. */
export interface DailyTotal {
  /** The till's local day, YYYY-MM-DD. */
  day: string;
  training: boolean;
  currency: string | null;
  provider: string;
  operation: string;
  count: number;
  completed_count: number;
  completed_minor: number;
}

export interface DailyTotals {
  first_day: string | null;
  last_day: string | null;
  /** The period was too long: only its last days are here. */
  clipped: boolean;
  days: DailyTotal[];
}

/** A page of history; the first page of a filter also has its totals and chart. */
export interface HistoryView {
  rows: HistoryRow[];
  next: HistoryCursor | null;
  totals?: HistoryTotals;
  daily?: DailyTotals;
}

/** One row of the audit log. */
export interface AuditEvent {
  seq: number;
  /** RFC 3339, UTC. */
  at: string;
  till_id: string;
  actor: string;
  event: string;
  provider: string | null;
  subject: string | null;
  transaction_id: string | null;
  amount_minor: number | null;
  currency: string | null;
  outcome: 'success' | 'failure' | 'info';
  details: string;
  prev_hash: string;
  hash: string;
}

export interface TransactionDetail extends HistoryRow {
  updated_at: string;
  customer_name: string | null;
  /** Every audit event about this transaction, oldest first. */
  events: AuditEvent[];
}

/** How far a long task has gone. */
export interface Progress {
  done: number;
  total: number;
}

export interface ExportedFile {
  path: string;
  rows: number;
}

/** The manager's history report: a filter's totals, saved as a PDF. */
export interface HistoryReport {
  store_name: string;
  till_id: string;
  exported_by: string;
  /** When it was made (UTC). */
  at: string;
  /** The filter in words, as the audit log records it. */
  filter: string;
  /** Training transactions counted, in lines of their own. */
  training: boolean;
  count: number;
  by_currency: CurrencyLine[];
  by_provider: GroupLine[];
}

export interface HistoryReportFile {
  path: string;
  report: HistoryReport;
}

export interface AuditAnchor {
  till_id: string;
  database: string;
  seq: number;
  hash: string;
  at: string;
}

export type AnchorCheck =
  | { status: 'none' }
  | { status: 'matched'; anchor: AuditAnchor }
  | { status: 'missing'; anchor: AuditAnchor }
  | { status: 'mismatch'; anchor: AuditAnchor; found: string }
  | { status: 'unchecked'; reason: string };

export interface AuditVerification {
  /** Rows checked and found intact. */
  rows: number;
  head: string;
  first_bad: { seq: number; reason: string } | null;
  anchor: AnchorCheck;
}

/** A BitPesa payout corridor: where money can go, and what the recipient form asks. */
export interface PayoutField {
  /** BitPesa's own field name, the key in PayoutInput.recipient. */
  name: string;
  label: string;
  required: boolean;
  kind: 'text' | 'phone' | 'select';
  options: { value: string; label: string }[];
  placeholder: string;
}

export interface PayoutCorridor {
  /** e.g. "KES::Mobile". */
  id: string;
  label: string;
  currency: string;
  recipient_type: 'person' | 'business';
  /** KES and UGX are paid in whole units. */
  whole_units: boolean;
  fields: PayoutField[];
  min: MoneyView | null;
  max: MoneyView | null;
}

export interface PayoutInput {
  corridor: string;
  amount: string;
  recipient: Record<string, string>;
  reason: string;
}

export interface Balance {
  currency: string;
  amount: MoneyView | null;
  /** BitPesa's figure exactly as sent, for currencies Kaunta does not know. */
  amount_text: string;
}

export interface Payout {
  transaction_id: string;
  bitpesa_id: string | null;
  corridor: string;
  state: TransactionState;
  provider_state: string | null;
  recipient_state: string | null;
  amount: MoneyView | null;
  output: MoneyView | null;
  /** Masked. */
  recipient: string;
  reason: string | null;
  /** For managers only: never on a customer's screen or slip. */
  state_reason: string | null;
  may_cancel: boolean;
  cancel_requested: boolean;
  message: string;
  receipt: ReceiptView | null;
  training: boolean;
  created_at: string;
  /** Ask again after this long; null when the payout is final. */
  poll_after_ms: number | null;
}
