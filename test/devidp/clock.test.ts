import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../src/util/clock.js';
import { authorize, claimsOf, codeGrantRequest, relyingParty, startTestIdp, useTestIdp } from './helpers.js';

/** The `clock` option: every lifetime the dev IdP hands out or checks is read from it. */
describe('dev IdP clock option', () => {
  const clock = new ManualClock(Date.UTC(2031, 0, 1));
  const idp = useTestIdp({ clock });

  async function codeGrant(advanceMs: number) {
    const a = await authorize(await relyingParty(idp));
    clock.advance(advanceMs);
    return codeGrantRequest(idp, a);
  }

  it('stamps tokens with its time', async () => {
    const r = await codeGrant(0);
    assert.equal(r.status, 200);
    const at = Math.floor(clock.now() / 1000);
    assert.equal(claimsOf(String(r.json.id_token)).iat, at);
    assert.equal(claimsOf(String(r.json.access_token)).iat, at);
  });

  it('expires authorization codes by it (60 s), without waiting', async () => {
    assert.equal((await codeGrant(59_999)).status, 200);
    const late = await codeGrant(60_000);
    assert.equal(late.json.error, 'invalid_grant');
    assert.match(String(late.json.error_description), /expired/);
  });

  it('refuses a clock without now()', async () => {
    await assert.rejects(
      startTestIdp({ clock: {} as never }),
      /clock must be an object with a now\(\) method/,
    );
  });
});
