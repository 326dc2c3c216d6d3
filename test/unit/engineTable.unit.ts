/**
 * `Engine.check()` (and the sign-in it leads to) against README's "How requests are answered"
 * table, row by row and column by column: the real engine, session service, refresh coordinator
 * and memory store on a ManualClock, behind a fake IdP (engineHarness.ts). The table is read from
 * README.md, so a row added there without a case here fails.
 *
 * The engine decides, a front door renders: an `error` decision is a page for a navigation and
 * JSON for an API call, `challenge` becomes `WWW-Authenticate`, `retryAfterSec` becomes
 * `Retry-After` (test/frontdoors checks that rendering for every door). Here each cell is
 * checked as the decision the door renders.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import type { Decision } from '../../src/engine/decision.js';
import { OidcError } from '../../src/oidc/errors.js';
import type { TokenResult } from '../../src/oidc/tokenResult.js';
import { GatehouseError } from '../../src/util/errors.js';
import {
  type ClientKind,
  EngineHarness,
  type HarnessOptions,
  IDP_AUTHORIZE,
  REFRESHED_CLAIMS,
} from './engineHarness.js';
import { deferred } from './fixtures.js';

const NAVIGATION = 'browser navigation';
const API = 'API call (fetch/XHR)';
type Column = typeof NAVIGATION | typeof API;
const CLIENT: Record<Column, ClientKind> = { [NAVIGATION]: 'navigation', [API]: 'api' };

/** README's table: situation → its two cells. */
function readmeTable(): Map<string, Record<Column, string>> {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.split('### How requests are answered')[1];
  assert.ok(section, 'README has a "How requests are answered" section');
  const rows = new Map<string, Record<Column, string>>();
  for (const line of section.split('\n').slice(1)) {
    if (!line.startsWith('|')) {
      if (rows.size > 0) break;
      continue;
    }
    const [situation = '', navigation = '', api = ''] = line
      .slice(1, -1)
      .split('|')
      .map((c) => c.trim());
    if (situation === 'situation' || /^-+$/.test(situation)) continue;
    rows.set(situation, { [NAVIGATION]: navigation, [API]: api });
  }
  return rows;
}

/** Brings a fresh harness into a situation and makes the request; returns what the client gets. */
type Act = (h: EngineHarness) => Promise<Decision>;
/** The cell, as a decision: what the client must get. */
type Expect = (d: Decision, h: EngineHarness) => void | Promise<void>;
interface Case {
  act: Act;
  expect: Expect;
  options?: HarnessOptions;
}
type Row = Partial<Record<Column, Record<string, Case>>>;

function each(acts: Record<string, Act>, expect: Expect, options?: HarnessOptions): Record<string, Case> {
  return Object.fromEntries(
    Object.entries(acts).map(([name, act]) => [name, options ? { act, expect, options } : { act, expect }]),
  );
}

const ACCESS_LIFETIME_MS = 300_000; // the fake IdP's tokens (fixtures.tokenResult)
const OUTAGE_GRACE_MS = 300_000; // refresh.outageGraceSeconds, default

// --- the acts -----------------------------------------------------------------------------------

const signedOut: Record<string, Act> = {
  'no session': (h) => h.check('/app'),
  'expired session': async (h) => {
    await h.signIn();
    h.clock.advance(h.cfg.session.maxAgeSeconds * 1000 + 1);
    return h.check('/app');
  },
  'refresh impossible (no refresh token)': async (h) => {
    await h.signIn({ refreshToken: false });
    h.clock.advance(ACCESS_LIFETIME_MS + 1);
    return h.check('/app');
  },
  'refresh impossible (the IdP refuses the refresh token)': async (h) => {
    await h.signIn();
    h.idp.refreshWith = async () => {
      throw new OidcError('refused', { oauthError: 'invalid_grant', description: 'revoked', status: 400 });
    };
    h.clock.advance(ACCESS_LIFETIME_MS + 1);
    return h.check('/app');
  },
};

/** Three requests at once with an expired token: one refresh, all served after it. */
const concurrentAfterExpiry: Act = async (h) => {
  await h.signIn();
  h.clock.advance(ACCESS_LIFETIME_MS + 1);
  const answers = await Promise.all([h.check('/app'), h.check('/app/a'), h.check('/app/b')]);
  for (const d of answers) assert.deepEqual(d, answers[0]);
  return answers[0]!;
};

/** Inside the grace window: answered while the refresh still runs; the refresh then lands. */
const insideGraceWindow: Act = async (h) => {
  const later = deferred<TokenResult>();
  h.idp.refreshWith = () => later.promise;
  await h.signIn();
  h.clock.advance(ACCESS_LIFETIME_MS - 30_000); // grace: min(60 s, a quarter of 300 s)
  const first = await Promise.race([h.check('/app'), h.ticks().then(() => undefined)]);
  assert.ok(first, 'answered while the refresh is still running');
  assert.equal(h.idp.refreshCalls.length, 1, 'the refresh has started');
  later.resolve(h.idp.grant(REFRESHED_CLAIMS));
  await h.refresh.settled();
  return first;
};

function idpDown(h: EngineHarness): void {
  h.idp.refreshWith = async () => {
    throw new TypeError('fetch failed');
  };
}

const WITHIN_GRACE = 'within refresh.outageGraceSeconds past expiry';
const idpDownWhileRefreshing: Record<string, Act> = {
  [WITHIN_GRACE]: async (h) => {
    await h.signIn();
    idpDown(h);
    h.clock.advance(ACCESS_LIFETIME_MS + OUTAGE_GRACE_MS - 1_000);
    return h.check('/app');
  },
  'past refresh.outageGraceSeconds': async (h) => {
    await h.signIn();
    idpDown(h);
    h.clock.advance(ACCESS_LIFETIME_MS + OUTAGE_GRACE_MS + 1_000);
    return h.check('/app');
  },
  'past it, while backing off after a failed refresh': async (h) => {
    await h.signIn();
    idpDown(h);
    h.clock.advance(ACCESS_LIFETIME_MS + OUTAGE_GRACE_MS - 1_000);
    assert.equal((await h.check('/app')).type, 'allow', 'served within the grace');
    h.clock.advance(2_000); // inside refresh.retryBackoffSeconds (5 s): no new attempt
    return h.check('/app');
  },
};

/** A signed-in user asks for `url`. */
function signedInTo(url: string): Act {
  return async (h) => {
    await h.signIn();
    return h.check(url);
  };
}

/** A sign-in started by a navigation to /app: the client keeps the login cookie; the flow's state. */
async function startSignIn(h: EngineHarness): Promise<string> {
  const d = await h.check('/app');
  h.keep(d.setCookies);
  return EngineHarness.stateOf(d);
}

const badCallbacks: Record<string, Act> = {
  'state unknown (no flow of this browser)': async (h) => {
    await startSignIn(h);
    return h.callback({ state: 'forged-state', code: 'c' });
  },
  'code missing': async (h) => h.callback({ state: await startSignIn(h) }),
  'ID token fails validation': async (h) => {
    h.idp.exchangeWith = async () => {
      throw new Error('unexpected ID Token "nonce" claim value');
    };
    return h.callback({ state: await startSignIn(h), code: 'c' });
  },
};

const idpErrorsAtLogin: Record<string, Act> = {
  'IdP unreachable at the code exchange (502)': async (h) => {
    h.idp.exchangeWith = async () => {
      throw new TypeError('fetch failed');
    };
    return h.callback({ state: await startSignIn(h), code: 'c' });
  },
  'IdP not discovered yet at the code exchange (503)': async (h) => {
    const state = await startSignIn(h);
    h.idp.exchangeWith = async () => {
      throw new GatehouseError('provider_unavailable', 503, 'The sign-in service is not reachable yet.');
    };
    return h.callback({ state, code: 'c' });
  },
  'IdP not discovered yet when the sign-in starts (503)': async (h) => {
    h.idp.discovered = false;
    return h.check('/app');
  },
};

/** maxAttempts logins complete, but the browser never sends the session cookie back. */
const sessionNeverSticks: Act = async (h) => {
  for (let i = 0; i < h.cfg.login.maxAttempts; i++) {
    const done = await h.callback({ state: await startSignIn(h), code: `c${i}` });
    assert.equal(done.type, 'redirect', `login ${i + 1} completes`);
    h.keep(done.setCookies, { dropSession: true });
  }
  return h.check('/app');
};

// --- the cells ----------------------------------------------------------------------------------

const redirectsToIdp: Expect = (d, h) => {
  assert.equal(d.type, 'redirect');
  assert.ok(d.type === 'redirect' && d.location.startsWith(`${IDP_AUTHORIZE}?`), 'to the IdP');
  assert.equal(d.status, undefined, '302');
  assert.ok(
    d.setCookies.some((c) => c.startsWith(`${h.jar.login}=`)),
    'with the login cookie',
  );
  if (h.presentedSession()) {
    assert.ok(d.setCookies.includes(`${h.jar.session}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`));
  }
};

const answers401: Expect = (d, h) => {
  assert.equal(d.type, 'error');
  if (d.type !== 'error') return;
  assert.equal(d.status, 401);
  assert.equal(d.challenge, true, 'WWW-Authenticate');
  assert.equal(d.code, h.presentedSession() ? 'session_expired' : 'no_session');
  assert.equal(d.signInUrl, '/oauth2/start?rd=%2Fapp');
  assert.equal(h.idp.authorizations.length, 0, 'no sign-in started');
};

function servedWith(groups: string[]): Expect {
  return (d) => {
    assert.equal(d.type, 'allow');
    assert.ok(d.type === 'allow' && d.sessionKey, 'bound to the session');
    assert.deepEqual(d.type === 'allow' && d.identity?.groups, groups);
  };
}

const servedAfterOneRefresh: Expect = (d, h) => {
  servedWith(['dev', 'ops'])(d, h);
  assert.deepEqual(h.idp.refreshCalls, ['rt-1'], 'one refresh for all three');
};

const servedAtOnceRefreshedBehind: Expect = async (d, h) => {
  servedWith(['dev'])(d, h);
  servedWith(['dev', 'ops'])(await h.check('/app'), h);
  assert.deepEqual(h.idp.refreshCalls, ['rt-1'], 'the next request uses the refreshed session');
};

const unavailable503: Expect = (d) => {
  assert.equal(d.type, 'error');
  if (d.type !== 'error') return;
  assert.equal(d.status, 503);
  assert.equal(d.code, 'provider_unavailable');
  assert.ok(d.retryAfterSec !== undefined && d.retryAfterSec >= 1, 'Retry-After');
  assert.equal(d.challenge, undefined);
};

const forbidden403: Expect = (d, h) => {
  assert.equal(d.type, 'error');
  if (d.type !== 'error') return;
  assert.equal(d.status, 403);
  assert.equal(d.code, 'forbidden');
  assert.match(d.reason, /^Access denied: you are not a member of a group allowed on \/admin \(admins\)\.$/);
  const reqId = h.lastRequest?.requestId;
  assert.ok(
    h.logs.some((l) => l.reqId === reqId && String(l.msg).startsWith('access denied')),
    'the request id is logged with the reason',
  );
};

/** An error page with "Sign in again" (a link, never an automatic redirect). */
const signInAgainPage: Expect = (d) => {
  assert.equal(d.type, 'error', 'a page, not a redirect');
  if (d.type !== 'error') return;
  assert.equal(d.status, 400);
  assert.match(d.code, /^(state_mismatch|callback_invalid)$/);
  assert.match(
    d.signInUrl ?? '',
    /^\/oauth2\/start\?rd=%2F[^&]*&retry=1$/,
    'a "Sign in again" link (back to the flow’s page, or /)',
  );
};

/** The status each case of the "IdP error at login" row names in its title: (502) or (503). */
const idpErrorPage: Expect = (d) => {
  assert.equal(d.type, 'error', 'a page, not a redirect');
  if (d.type !== 'error') return;
  assert.match(d.code, /^provider_(error|unavailable)$/);
  assert.ok([502, 503].includes(d.status), `status ${d.status}`);
};

const loopStopped: Expect = (d, h) => {
  assert.equal(d.type, 'page');
  if (d.type !== 'page') return;
  assert.equal(d.status, 429);
  assert.equal(d.title, 'Sign-in keeps failing');
  assert.equal(h.idp.authorizations.length, h.cfg.login.maxAttempts, 'no further redirect to the IdP');
};

// --- the table ----------------------------------------------------------------------------------

const adminRule: HarnessOptions = {
  config: { authorization: { rules: [{ pathPrefix: '/admin', allowedGroups: ['admins'] }] } },
};

/** The same cases in both columns (the README cell says "same", or both cells agree). */
function both(cases: Record<string, Case>): Row {
  return { [NAVIGATION]: cases, [API]: cases };
}

const TABLE: Record<string, Row> = {
  'no session, expired session, refresh impossible': {
    [NAVIGATION]: each(signedOut, redirectsToIdp),
    [API]: each(signedOut, answers401),
  },
  'token expired, refresh works': both(
    each({ 'three requests at once': concurrentAfterExpiry }, servedAfterOneRefresh),
  ),
  'token inside the grace window': both(
    each({ 'one request': insideGraceWindow }, servedAtOnceRefreshedBehind),
  ),
  'IdP down while refreshing': both({
    ...each({ [WITHIN_GRACE]: idpDownWhileRefreshing[WITHIN_GRACE]! }, servedWith(['dev'])),
    ...each(
      Object.fromEntries(Object.entries(idpDownWhileRefreshing).filter(([name]) => name !== WITHIN_GRACE)),
      unavailable503,
    ),
  }),
  'authorization denied': both(
    each({ 'not in the group of the /admin rule': signedInTo('/admin/x') }, forbidden403, adminRule),
  ),
  'callback invalid (state, code, ID token…)': {
    [NAVIGATION]: each(badCallbacks, signInAgainPage),
  },
  'IdP error at login': {
    [NAVIGATION]: each(idpErrorsAtLogin, idpErrorPage),
  },
  'the session keeps not sticking after logins': {
    [NAVIGATION]: each({ 'maxAttempts logins in a row': sessionNeverSticks }, loopStopped),
  },
};

describe("Engine against README's “How requests are answered” table", () => {
  const readme = readmeTable();

  test('every row of the README table has its cases here, and only those', () => {
    assert.deepEqual([...Object.keys(TABLE)].sort(), [...readme.keys()].sort());
    for (const [situation, cells] of readme) {
      for (const column of [NAVIGATION, API] as const) {
        const dash = cells[column] === '—';
        assert.equal(TABLE[situation]?.[column] === undefined, dash, `${situation} / ${column}`);
      }
    }
  });

  for (const [situation, row] of Object.entries(TABLE)) {
    describe(situation, () => {
      for (const column of [NAVIGATION, API] as const) {
        for (const [name, c] of Object.entries(row[column] ?? {})) {
          test(`${column}, ${name}: ${readme.get(situation)?.[column]}`, async () => {
            const h = new EngineHarness({ ...c.options, client: CLIENT[column] });
            await c.expect(await c.act(h), h);
          });
        }
      }
    });
  }
});
