import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const invoke = vi.fn();
vi.mock('@tauri-apps/api/core', () => ({ invoke: (...args: unknown[]) => invoke(...args) }));
const listen = vi.fn();
vi.mock('@tauri-apps/api/event', () => ({ listen: (...args: unknown[]) => listen(...args) }));

const api = await import('./api');

describe('toApiError', () => {
  it('passes the backend shape through', () => {
    expect(api.toApiError({ code: 'expired', message: 'Voucher expired' })).toEqual({
      code: 'expired',
      message: 'Voucher expired',
    });
  });

  it('wraps a string rejection as internal', () => {
    expect(api.toApiError('boom')).toEqual({ code: 'internal', message: 'boom' });
  });

  it('handles Error objects, junk and empty messages', () => {
    expect(api.toApiError(new TypeError('bad'))).toEqual({ code: 'internal', message: 'bad' });
    expect(api.toApiError(undefined).code).toBe('internal');
    expect(api.toApiError({ code: 'x', message: '' }).message).not.toBe('');
    expect(api.toApiError(42).message).not.toBe('');
  });
});

describe('commands', () => {
  beforeEach(() => {
    (globalThis as Record<string, unknown>).__TAURI_INTERNALS__ = { invoke: () => undefined };
    invoke.mockReset();
  });
  afterEach(() => {
    delete (globalThis as Record<string, unknown>).__TAURI_INTERNALS__;
  });

  it('passes arguments with the contract keys', async () => {
    invoke.mockResolvedValue(null);
    await api.signIn('Amina', '4821');
    await api.validateVoucher('pesavoucher', 'ABC');
    await api.redeemVoucher('pesavoucher', 'ABC');
    await api.setCredentials('pesavoucher', { api_key: 'k', api_secret: 's' });
    await api.appInfo();
    expect(invoke.mock.calls).toEqual([
      ['sign_in', { name: 'Amina', pin: '4821' }],
      ['validate_voucher', { provider: 'pesavoucher', code: 'ABC' }],
      ['redeem_voucher', { provider: 'pesavoucher', code: 'ABC' }],
      ['set_credentials', { provider: 'pesavoucher', values: { api_key: 'k', api_secret: 's' } }],
      ['app_info', undefined],
    ]);
  });

  it('passes the staff and back-office arguments with the contract keys', async () => {
    invoke.mockResolvedValue(null);
    await api.createFirstManager('Amina', '4821');
    await api.managerUnlock('Amina', '4821');
    await api.staffAdd('Juma', 'cashier', '1357');
    await api.staffChange('Juma', { active: false });
    await api.resolveTransaction('t1', 'failed', 'not on the statement');
    await api.refundVoucher('a@example.com', '750', null);
    expect(invoke.mock.calls).toEqual([
      ['create_first_manager', { name: 'Amina', pin: '4821' }],
      ['manager_unlock', { name: 'Amina', pin: '4821' }],
      ['staff_add', { name: 'Juma', role: 'cashier', pin: '1357' }],
      ['staff_change', { name: 'Juma', change: { active: false } }],
      ['resolve_transaction', { id: 't1', outcome: 'failed', reason: 'not on the statement' }],
      ['refund_voucher', { email: 'a@example.com', amount: '750', message: null }],
    ]);
  });

  it('passes the Telesend arguments with camelCase keys', async () => {
    invoke.mockResolvedValue(null);
    await api.telesendClaim('GIFT99', '200');
    await api.telesendClaim('GIFT99', null);
    await api.telesendRedeem('GIFT99', '123456');
    await api.telesendRedeem('ANON42', null);
    await api.telesendCancel('GIFT99');
    await api.telesendDenominations();
    expect(invoke.mock.calls).toEqual([
      ['telesend_claim', { code: 'GIFT99', amount: '200' }],
      ['telesend_claim', { code: 'GIFT99', amount: null }],
      ['telesend_redeem', { code: 'GIFT99', verificationCode: '123456' }],
      ['telesend_redeem', { code: 'ANON42', verificationCode: null }],
      ['telesend_cancel', { code: 'GIFT99' }],
      ['telesend_denominations', undefined],
    ]);
  });

  it('passes the GiftPesa arguments under the contract keys', async () => {
    invoke.mockResolvedValue(null);
    const input = { name: 'Jane Doe', phone: '+254720123456', amount: '1000', till: null, remarks: null, confirm_repeat: false };
    await api.giftpesaRedeem(input);
    await api.giftpesaSettings();
    await api.giftpesaMerchants();
    await api.giftpesaImportCertificate('-----BEGIN CERTIFICATE-----');
    await api.setCredentials('giftpesa', { username: 'u', api_key: 'k' });
    expect(invoke.mock.calls).toEqual([
      ['giftpesa_redeem', { input }],
      ['giftpesa_settings', undefined],
      ['giftpesa_merchants', undefined],
      ['giftpesa_import_certificate', { contents: '-----BEGIN CERTIFICATE-----' }],
      ['set_credentials', { provider: 'giftpesa', values: { username: 'u', api_key: 'k' } }],
    ]);
  });

  it('passes the Pesapal arguments under the contract keys', async () => {
    invoke.mockResolvedValue(null);
    const input = {
      amount: '1500',
      description: 'Order 42',
      phone: '0720123456',
      email: null,
      first_name: 'Jane',
      last_name: 'Doe',
    };
    await api.pesapalCheckout(input);
    await api.pesapalWait('tx-1');
    await api.pesapalStatus('tx-1');
    await api.pesapalStopWaiting('tx-1');
    await api.pesapalIpnList();
    await api.pesapalIpnRegister('https://till.example.com/ipn', 'GET');
    await api.pesapalIpnChoose('ipn-1');
    await api.setCredentials('pesapal', { consumer_key: 'k', consumer_secret: 's' });
    expect(invoke.mock.calls).toEqual([
      ['pesapal_checkout', { input }],
      ['pesapal_wait', { transactionId: 'tx-1' }],
      ['pesapal_status', { transactionId: 'tx-1' }],
      ['pesapal_stop_waiting', { transactionId: 'tx-1' }],
      ['pesapal_ipn_list', undefined],
      ['pesapal_ipn_register', { url: 'https://till.example.com/ipn', method: 'GET' }],
      ['pesapal_ipn_choose', { ipnId: 'ipn-1' }],
      ['set_credentials', { provider: 'pesapal', values: { consumer_key: 'k', consumer_secret: 's' } }],
    ]);
  });

  it('hands the pesapal-callback payload over, and stops listening on request', async () => {
    listen.mockReset();
    const unlisten = vi.fn();
    let deliver: ((event: { payload: unknown }) => void) | undefined;
    listen.mockImplementation((name: string, handler: (event: { payload: unknown }) => void) => {
      expect(name).toBe('pesapal-callback');
      deliver = handler;
      return Promise.resolve(unlisten);
    });
    const seen: unknown[] = [];
    const stop = await api.onPesapalCallback((p) => seen.push(p));
    deliver?.({ payload: { transaction_id: 'tx-1', url: 'https://till.local/cb' } });
    expect(seen).toEqual([{ transaction_id: 'tx-1', url: 'https://till.local/cb' }]);
    stop();
    expect(unlisten).toHaveBeenCalledOnce();
  });

  it('without a backend (or an event bridge) the callback listener is a quiet no-op', async () => {
    listen.mockReset();
    listen.mockRejectedValue(new Error('transformCallback is not a function'));
    const stop = await api.onPesapalCallback(() => {});
    expect(() => stop()).not.toThrow();
    delete (globalThis as Record<string, unknown>).__TAURI_INTERNALS__;
    listen.mockReset();
    await api.onPesapalCallback(() => {});
    expect(listen).not.toHaveBeenCalled();
  });

  it('normalises rejections', async () => {
    invoke.mockRejectedValueOnce('plain text');
    await expect(api.recentTransactions()).rejects.toEqual({ code: 'internal', message: 'plain text' });
    invoke.mockRejectedValueOnce({ code: 'already_redeemed', message: 'Already redeemed' });
    await expect(api.redeemVoucher('pesavoucher', 'X')).rejects.toEqual({
      code: 'already_redeemed',
      message: 'Already redeemed',
    });
  });

  it('explains itself outside the desktop app instead of crashing', async () => {
    delete (globalThis as Record<string, unknown>).__TAURI_INTERNALS__;
    await expect(api.appInfo()).rejects.toMatchObject({ code: 'no_backend' });
    expect(invoke).not.toHaveBeenCalled();
  });
});
