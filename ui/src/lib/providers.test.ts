import { describe, expect, it } from 'vitest';
import { providerForm, providerName, providerTabIndex, type ShortcutKey } from './providers';

const key = (over: Partial<ShortcutKey>): ShortcutKey => ({
  key: '',
  code: '',
  altKey: false,
  ctrlKey: false,
  metaKey: false,
  shiftKey: false,
  ...over,
});

describe('provider tab shortcuts', () => {
  it('Alt+1 and Alt+2 pick the first and second tab, on any keyboard layout', () => {
    expect(providerTabIndex(key({ altKey: true, key: '1', code: 'Digit1' }))).toBe(0);
    expect(providerTabIndex(key({ altKey: true, key: '2', code: 'Digit2' }))).toBe(1);
    expect(providerTabIndex(key({ altKey: true, key: '&', code: 'Digit1' }))).toBe(0);
    expect(providerTabIndex(key({ altKey: true, key: '2', code: 'Numpad2' }))).toBe(1);
  });

  it('plain digits (typed codes) and other modifiers are not shortcuts', () => {
    expect(providerTabIndex(key({ key: '1', code: 'Digit1' }))).toBeNull();
    expect(providerTabIndex(key({ altKey: true, ctrlKey: true, key: '1', code: 'Digit1' }))).toBeNull();
    expect(providerTabIndex(key({ altKey: true, key: '0', code: 'Digit0' }))).toBeNull();
    expect(providerTabIndex(key({ altKey: true, key: 'a', code: 'KeyA' }))).toBeNull();
  });
});

describe('provider facts', () => {
  it('Telesend asks for one API token, under the ids the end-to-end tests use', () => {
    expect(providerForm('telesend')).toEqual({
      fields: [{ key: 'api_token', label: 'API token', id: 'ts-api-token', secret: true }],
      saveId: 'ts-save-credentials',
      statusId: 'ts-credentials-status',
    });
  });

  it('GiftPesa asks for a username (typed visibly) and a blind API key, under the end-to-end ids', () => {
    expect(providerForm('giftpesa')).toEqual({
      fields: [
        { key: 'username', label: 'Username', id: 'gp-username', secret: false },
        { key: 'api_key', label: 'API key', id: 'gp-api-key', secret: true },
      ],
      saveId: 'gp-save-credentials',
      statusId: 'gp-credentials-status',
    });
    for (const id of ['pesavoucher', 'telesend', 'other']) {
      expect(providerForm(id).fields.every((f) => f.secret)).toBe(true);
    }
  });

  it('Pesapal asks for a consumer key (typed visibly) and a blind consumer secret, under the end-to-end ids', () => {
    expect(providerForm('pesapal')).toEqual({
      fields: [
        { key: 'consumer_key', label: 'Consumer key', id: 'pp-consumer-key', secret: false },
        { key: 'consumer_secret', label: 'Consumer secret', id: 'pp-consumer-secret', secret: true },
      ],
      saveId: 'pp-save-credentials',
      statusId: 'pp-credentials-status',
    });
  });

  it('names providers, falling back to the known names, then the id', () => {
    const list = [
      { id: 'pesavoucher', name: 'PesaVoucher' },
      { id: 'telesend', name: 'Telesend' },
      { id: 'giftpesa', name: 'GiftPesa' },
    ];
    expect(providerName(list, 'telesend')).toBe('Telesend');
    expect(providerName(list, 'giftpesa')).toBe('GiftPesa');
    expect(providerName([], 'giftpesa')).toBe('GiftPesa');
    expect(providerName([], 'pesapal')).toBe('Pesapal');
    expect(providerName(list, 'other')).toBe('other');
  });

  it('Alt+3 and Alt+4 pick the third and fourth tab', () => {
    expect(providerTabIndex(key({ altKey: true, key: '3', code: 'Digit3' }))).toBe(2);
    expect(providerTabIndex(key({ altKey: true, key: '4', code: 'Digit4' }))).toBe(3);
  });
});
