/** The bench IdP's counters (see idpProcess.ts): token-endpoint grants and `invalid_grant`s. */
import { request } from 'undici';

export interface IdpStats {
  refreshGrants: number;
  codeGrants: number;
  invalidGrants: number;
  tokenErrors: number;
}

export async function idpStats(idpUrl: string): Promise<IdpStats> {
  const r = await request(`${idpUrl}/__stats`);
  return (await r.body.json()) as IdpStats;
}

export async function resetIdpStats(idpUrl: string): Promise<void> {
  const r = await request(`${idpUrl}/__reset`, { method: 'POST' });
  await r.body.dump();
}
