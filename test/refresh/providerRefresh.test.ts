import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { OidcError } from '../../src/oidc/errors.js';
import { OidcProvider } from '../../src/oidc/provider.js';
import { withClient } from '../../src/oidc/settings.js';
import { ManualClock } from '../../src/util/clock.js';
import { createLogger } from '../../src/util/log.js';
import { claimsOf, type client, login, relyingParty, useTestIdp } from '../devidp/helpers.js';
import { TEST_SECRET } from '../helpers/stack.js';

/** OidcProvider.refresh against the dev IdP: what it keeps, and what it refuses outright. */
describe('provider refresh', () => {
  const idp = useTestIdp();
  let rp: client.Configuration;
  let provider: OidcProvider;
  before(async () => {
    rp = await relyingParty(idp);
    const cfg = loadConfig({
      object: {
        publicUrl: 'http://127.0.0.1:4180',
        provider: { issuer: idp.issuer, clientId: 'gatehouse', clientSecret: 'gatehouse-dev-secret' },
        session: { secret: TEST_SECRET },
      },
      env: {},
    });
    provider = new OidcProvider(withClient(cfg), {
      clock: new ManualClock(),
      logger: createLogger('silent'),
    });
    await provider.start();
  });
  after(() => provider?.stop());

  it('a refreshed ID token for the same subject: new tokens and claims', async () => {
    const tokens = await login(rp, { scope: 'openid email offline_access' });
    const sub = claimsOf(tokens.id_token).sub!;
    const r = await provider.refresh(tokens.refresh_token!, { sub });
    assert.equal(r.claims?.sub, sub);
    assert.ok(r.tokens.refreshToken && r.tokens.refreshToken !== tokens.refresh_token, 'rotated');
    assert.ok(r.tokens.idToken);
  });

  it('a refreshed ID token naming another subject is terminal: nothing is kept for this session', async () => {
    const tokens = await login(rp, { scope: 'openid email offline_access', login_hint: 'bob' });
    await assert.rejects(
      provider.refresh(tokens.refresh_token!, { sub: 'someone-else' }),
      (err: unknown) =>
        err instanceof OidcError && err.kind === 'terminal' && err.oauthError === 'subject_changed',
    );
  });
});
