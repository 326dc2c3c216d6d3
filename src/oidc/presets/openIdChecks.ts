import type { PresetConfigView } from './preset.js';

/** What every OpenID Connect preset (generic, google, cognito) asks of the configuration. */
export function openIdConfigProblems(c: PresetConfigView): string[] {
  const problems: string[] = [];
  if (!c.provider.scopes.includes('openid')) {
    problems.push('provider.scopes: must include "openid" (Gatehouse is an OpenID Connect client)');
  }
  if (c.matchUsersBy?.includes('login')) {
    problems.push(
      'authorization.matchUsersBy: "login" is the GitHub login (provider.preset: github) — use preferred_username for other providers, knowing it is neither unique nor stable',
    );
  }
  return problems;
}
