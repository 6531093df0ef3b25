// Mirrors the Rust backend's serde types (snake_case on the wire).

export type Environment = 'training' | 'sandbox' | 'live';

export interface ProviderInfo {
  id: string;
  name: string;
}

export interface AppInfo {
  environment: Environment;
  training: boolean;
  store_name: string;
  till_id: string;
  version: string;
  cashier: string | null;
  providers: ProviderInfo[];
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

export type RedemptionState = 'completed' | 'unknown';

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
