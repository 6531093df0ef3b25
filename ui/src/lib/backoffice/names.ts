import type { AppInfo } from '../../types';

/** A provider id as the till shows it ("pesavoucher" → "PesaVoucher"). */
export function providerName(info: AppInfo, id: string): string {
  return info.providers.find((p) => p.id === id)?.name ?? id;
}
