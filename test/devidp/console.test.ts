// The live console's JSON feeds (GET /__admin/events, /__admin/families) and its page: what a
// person watching a login and a refresh sees, that no token value ever shows, that the page's
// CSP forbids foreign scripts, and that only loopback clients get any of it.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { networkInterfaces } from 'node:os';
import { describe, it } from 'node:test';
import { fingerprint } from '../../src/devidp/requestLog.js';
import { stopChild } from '../helpers/children.js';
import { spawnCli } from '../helpers/cli.js';
import { freePort } from '../helpers/ports.js';
import { admin, client, getJson, login, tokenRequest, useRelyingParty, useTestIdp } from './helpers.js';

interface Event {
  seq: number;
  endpoint: string;
  method: string;
  status: number;
  ms: number;
  grantType?: string;
  clientId?: string;
  sub?: string;
  error?: string;
  family?: string;
  access?: string;
  refresh?: string;
  presented?: string;
}

interface Family {
  family: string;
  sub: string;
  session?: string;
  sessionLive: boolean;
  tokens: { grantType: string; at: number; expiresAt?: number; access: string; refresh?: string }[];
  refreshes: number;
  rotations: number;
  reuseDetections: number;
  revoked?: { reason: string };
}

async function eventsText(
  issuer: string,
  since = 0,
): Promise<{ text: string; events: Event[]; latest: number }> {
  const res = await fetch(`${issuer}/__admin/events?since=${since}`);
  assert.equal(res.status, 200);
  const text = await res.text();
  const json = JSON.parse(text) as { events: Event[]; latest: number };
  return { text, events: json.events, latest: json.latest };
}

async function familiesText(issuer: string): Promise<{ text: string; families: Family[] }> {
  const res = await fetch(`${issuer}/__admin/families`);
  assert.equal(res.status, 200);
  const text = await res.text();
  return { text, families: (JSON.parse(text) as { families: Family[] }).families };
}

describe('live console feeds', () => {
  const idp = useTestIdp({ profiles: ['short-expiry'] });
  const rp = useRelyingParty(idp);

  it('a code flow and a refresh show as token requests with status, grant type and fingerprints only', async () => {
    const { latest: before } = await eventsText(idp.issuer);
    const first = await login(rp.config);
    const second = await client.refreshTokenGrant(rp.config, first.refresh_token ?? '');
    const { text, events } = await eventsText(idp.issuer, before);

    const tokens = events.filter((e) => e.endpoint === '/token');
    assert.deepEqual(
      tokens.map((e) => [e.method, e.status, e.grantType, e.clientId, e.sub]),
      [
        ['POST', 200, 'authorization_code', 'gatehouse', 'usr_alice'],
        ['POST', 200, 'refresh_token', 'gatehouse', 'usr_alice'],
      ],
    );
    assert.ok(
      events.some((e) => e.endpoint === '/authorize' && e.status === 302 && e.clientId === 'gatehouse'),
    );
    assert.ok(tokens.every((e) => typeof e.ms === 'number' && e.ms >= 0));
    // The refresh presented the code grant's refresh token and got a new one: the chain, by fingerprint.
    const [code, refresh] = tokens;
    assert.equal(code?.refresh, fingerprint(first.refresh_token ?? ''));
    assert.equal(refresh?.presented, code?.refresh);
    assert.equal(refresh?.refresh, fingerprint(second.refresh_token ?? ''));
    assert.equal(refresh?.access, fingerprint(second.access_token));
    assert.equal(refresh?.family, code?.family);
    // No token value appears anywhere in the feed.
    for (const raw of [
      first.access_token,
      first.refresh_token,
      first.id_token,
      second.access_token,
      second.refresh_token,
      second.id_token,
    ]) {
      assert.ok(raw && raw.length > 20);
      assert.ok(!text.includes(raw), 'a raw token appears in /__admin/events');
    }
    // The console's own polling is not logged.
    assert.ok(events.every((e) => !e.endpoint.startsWith('/__admin')));
  });

  it('a family shows its tokens, one refresh and one rotation, and reuse revokes it', async () => {
    const first = await login(rp.config);
    const second = await client.refreshTokenGrant(rp.config, first.refresh_token ?? '');
    const familyFp = (await eventsText(idp.issuer)).events.findLast(
      (e) => e.grantType === 'refresh_token',
    )?.family;
    let { text, families } = await familiesText(idp.issuer);
    let family = families.find((f) => f.family === familyFp);
    assert.ok(family, 'the family is listed');
    assert.equal(families[0]?.family, familyFp, 'newest first');
    assert.deepEqual(
      family.tokens.map((t) => t.grantType),
      ['authorization_code', 'refresh_token'],
    );
    assert.equal(family.refreshes, 1);
    assert.equal(family.rotations, 1);
    assert.equal(family.reuseDetections, 0);
    assert.equal(family.revoked, undefined);
    assert.equal(family.sub, 'usr_alice');
    assert.equal(family.sessionLive, true);
    // short-expiry: each access token lives 10 s from its issue.
    for (const t of family.tokens) assert.equal(t.expiresAt, t.at + 10_000);
    for (const raw of [first.access_token, first.refresh_token, second.access_token, second.refresh_token])
      assert.ok(!text.includes(raw ?? '-'), 'a raw token appears in /__admin/families');

    // The spent refresh token again: reuse detected, the family revoked.
    const reuse = await tokenRequest(idp, {
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token ?? '',
    });
    assert.equal(reuse.status, 400);
    ({ text, families } = await familiesText(idp.issuer));
    family = families.find((f) => f.family === familyFp);
    assert.equal(family?.reuseDetections, 1);
    assert.equal(family?.revoked?.reason, 'reuse');
    const last = (await eventsText(idp.issuer)).events.findLast((e) => e.endpoint === '/token');
    assert.deepEqual([last?.status, last?.grantType, last?.error], [400, 'refresh_token', 'invalid_grant']);
  });

  it('keeps the newest 500 requests; since= answers only the newer ones', async () => {
    const { latest } = await eventsText(idp.issuer);
    for (let i = 0; i < 510; i++) await (await fetch(`${idp.issuer}/jwks`)).arrayBuffer();
    const all = await eventsText(idp.issuer);
    assert.equal(all.events.length, 500);
    assert.equal(all.latest, latest + 510);
    assert.equal(all.events.at(-1)?.seq, all.latest);
    assert.deepEqual(
      (await eventsText(idp.issuer, all.latest - 3)).events.map((e) => e.seq),
      [all.latest - 2, all.latest - 1, all.latest],
    );
    assert.equal((await admin(idp, 'GET', 'events?since=abc')).status, 400);
  });

  it('GET /__admin/ and /__admin answer the console page with a CSP that forbids external scripts', async () => {
    for (const path of ['/__admin/', '/__admin']) {
      const res = await fetch(`${idp.issuer}${path}`);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
      const html = await res.text();
      assert.match(html, /live console/);
      assert.ok(!/<script[^>]+src=/i.test(html), 'no external script tag');
      const csp = res.headers.get('content-security-policy') ?? '';
      const directives = new Map(
        csp.split(';').map((d) => {
          const [name = '', ...values] = d.trim().split(/\s+/);
          return [name, values] as const;
        }),
      );
      assert.deepEqual(directives.get('default-src'), ["'none'"]);
      const script = directives.get('script-src') ?? [];
      assert.ok(
        script.length > 0 && script.every((s) => /^'sha256-[A-Za-z0-9+/]+=*'$/.test(s)),
        `script-src ${script.join(' ')}`,
      );
      assert.deepEqual(directives.get('connect-src'), ["'self'"]);
      assert.deepEqual(directives.get('frame-ancestors'), ["'none'"]);
    }
  });
});

/** An address of this host that is not loopback: a request to it arrives from a non-loopback address. */
function nonLoopbackAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return undefined;
}

describe('live console: loopback clients only', () => {
  const address = nonLoopbackAddress();
  const idp = useTestIdp({ host: '0.0.0.0' });

  it('a client on a non-loopback address gets 403 for the page and its feeds', {
    skip: address === undefined && 'no non-loopback IPv4 address on this host',
  }, async () => {
    const base = `http://${address}:${idp.port}`;
    for (const path of ['/__admin/', '/__admin', '/__admin/events?since=0', '/__admin/families']) {
      const res = await getJson(`${base}${path}`);
      assert.equal(res.status, 403, path);
      assert.equal(res.json.error, 'access_denied');
    }
    // The same server answers loopback clients.
    assert.equal((await fetch(`http://127.0.0.1:${idp.port}/__admin/families`)).status, 200);
  });
});

describe('live console: `npm start` (gatehouse demo)', () => {
  it('prints the console URL next to the others, and it answers the console page', async () => {
    const [port, idpPort] = [await freePort(), await freePort()];
    const child = spawnCli(['demo', '--port', String(port), '--idp-port', String(idpPort)]);
    try {
      let stdout = '';
      child.stdout.on('data', (c: Buffer) => {
        stdout += c.toString();
      });
      while (!stdout.includes('Press Ctrl+C')) {
        const [code] = await Promise.race([once(child.stdout, 'data'), once(child, 'exit')]);
        if (typeof code === 'number') assert.fail(`the demo exited ${code}: ${stdout}`);
      }
      const url = `http://127.0.0.1:${idpPort}/__admin/`;
      assert.match(stdout, new RegExp(`^  console: +${url.replace(/[.]/g, '\\.')} `, 'm'));
      assert.match(stdout, new RegExp(`^  open: +http://127\\.0\\.0\\.1:${port}/`, 'm'));
      const res = await fetch(url);
      assert.equal(res.status, 200);
      assert.match(await res.text(), /live console/);
    } finally {
      await stopChild(child);
    }
  });
});
