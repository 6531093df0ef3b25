// Per-provider UI facts the backend does not send: which credential fields to ask
// for. Adding a provider is one entry here plus its id in app_info().providers.

export interface CredentialField {
  /** Key in the `values` object sent to set_credentials. */
  key: string;
  label: string;
  /** DOM id (end-to-end tests address fields by id). */
  id: string;
}

export interface ProviderForm {
  fields: CredentialField[];
  saveId: string;
  statusId: string;
}

const FORMS: Record<string, ProviderForm> = {
  pesavoucher: {
    fields: [
      { key: 'api_key', label: 'API key', id: 'pv-api-key' },
      { key: 'api_secret', label: 'API secret', id: 'pv-api-secret' },
    ],
    saveId: 'save-credentials',
    statusId: 'credentials-status',
  },
};

/** Unknown providers still get a form, but the backend decides what is accepted. */
export function providerForm(providerId: string): ProviderForm {
  return (
    FORMS[providerId] ?? {
      fields: [
        { key: 'api_key', label: 'API key', id: `${providerId}-api-key` },
        { key: 'api_secret', label: 'API secret', id: `${providerId}-api-secret` },
      ],
      saveId: `save-credentials-${providerId}`,
      statusId: `credentials-status-${providerId}`,
    }
  );
}
