import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IssuedTokens } from '../../src/devidp/index.js';
import { client, login, useRelyingParty, useTestIdp } from './helpers.js';

/** DevIdp.onTokens: what a test learns is exactly what the relying party received. */
describe('dev IdP onTokens', () => {
  const idp = useTestIdp();
  const rp = useRelyingParty(idp);

  it('reports each token response, code grant and refresh, with the values as sent', async () => {
    const seen: IssuedTokens[] = [];
    const stop = idp.onTokens((t) => seen.push(t));
    const first = await login(rp.config);
    const second = await client.refreshTokenGrant(rp.config, first.refresh_token ?? '');
    stop();
    assert.deepEqual(seen, [
      { accessToken: first.access_token, refreshToken: first.refresh_token, idToken: first.id_token },
      { accessToken: second.access_token, refreshToken: second.refresh_token, idToken: second.id_token },
    ]);
    assert.notEqual(seen[0]?.refreshToken, seen[1]?.refreshToken, 'rotated: two different refresh tokens');
  });

  it('leaves out what the response did not carry, and stops reporting once removed', async () => {
    const seen: IssuedTokens[] = [];
    const stop = idp.onTokens((t) => seen.push(t));
    const tokens = await login(rp.config, { scope: 'openid' });
    stop();
    await login(rp.config);
    assert.deepEqual(seen, [{ accessToken: tokens.access_token, idToken: tokens.id_token }]);
  });
});
