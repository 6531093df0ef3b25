// Per-provider UI facts the backend does not send: which credential fields to ask
// for. Adding a provider is one entry here plus its id in app_info().providers.

export interface CredentialField {
  /** Key in the `values` object sent to set_credentials. */
  key: string;
  label: string;
  /** DOM id (end-to-end tests address fields by id). */
  id: string;
  /** Typed blind (a password field); false only for names such as a username. */
  secret: boolean;
}

export interface ProviderForm {
  fields: CredentialField[];
  saveId: string;
  statusId: string;
}

const FORMS: Record<string, ProviderForm> = {
  pesavoucher: {
    fields: [
      { key: 'api_key', label: 'API key', id: 'pv-api-key', secret: true },
      { key: 'api_secret', label: 'API secret', id: 'pv-api-secret', secret: true },
    ],
    saveId: 'save-credentials',
    statusId: 'credentials-status',
  },
  telesend: {
    fields: [{ key: 'api_token', label: 'API token', id: 'ts-api-token', secret: true }],
    saveId: 'ts-save-credentials',
    statusId: 'ts-credentials-status',
  },
  giftpesa: {
    fields: [
      { key: 'username', label: 'Username', id: 'gp-username', secret: false },
      { key: 'api_key', label: 'API key', id: 'gp-api-key', secret: true },
    ],
    saveId: 'gp-save-credentials',
    statusId: 'gp-credentials-status',
  },
  pesapal: {
    fields: [
      { key: 'consumer_key', label: 'Consumer key', id: 'pp-consumer-key', secret: false },
      { key: 'consumer_secret', label: 'Consumer secret', id: 'pp-consumer-secret', secret: true },
    ],
    saveId: 'pp-save-credentials',
    statusId: 'pp-credentials-status',
  },
  bitpesa: {
    fields: [
      { key: 'api_key', label: 'API key', id: 'bp-api-key', secret: true },
      { key: 'api_secret', label: 'API secret', id: 'bp-api-secret', secret: true },
    ],
    saveId: 'bp-save-credentials',
    statusId: 'bp-credentials-status',
  },
};

/** Unknown providers still get a form, but the backend decides what is accepted. */
export function providerForm(providerId: string): ProviderForm {
  return (
    FORMS[providerId] ?? {
      fields: [
        { key: 'api_key', label: 'API key', id: `${providerId}-api-key`, secret: true },
        { key: 'api_secret', label: 'API secret', id: `${providerId}-api-secret`, secret: true },
      ],
      saveId: `save-credentials-${providerId}`,
      statusId: `credentials-status-${providerId}`,
    }
  );
}

export interface ShortcutKey {
  key: string;
  /** Physical key, e.g. "Digit1": layout-independent (AZERTY's Alt+1 is key "&"). */
  code: string;
  altKey: boolean;
  ctrlKey: boolean;
  metaKey: boolean;
  shiftKey: boolean;
}

/** Alt+1 … Alt+9 pick a provider tab: returns its 0-based index, or null. */
export function providerTabIndex(e: ShortcutKey): number | null {
  if (!e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return null;
  const m = /^(?:Digit|Numpad)([1-9])$/.exec(e.code) ?? /^([1-9])$/.exec(e.key);
  return m ? Number(m[1]) - 1 : null;
}

/** Known providers' names, for rows whose provider app_info() no longer lists. */
const KNOWN_NAMES: Record<string, string> = {
  pesavoucher: 'PesaVoucher',
  telesend: 'Telesend',
  giftpesa: 'GiftPesa',
  pesapal: 'Pesapal',
};

/** Name to show for a provider id, e.g. in the recent list. */
export function providerName(providers: readonly { id: string; name: string }[], id: string): string {
  return providers.find((p) => p.id === id)?.name ?? KNOWN_NAMES[id] ?? id;
}
