import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import type { IssuedTokens } from '../../src/devidp/index.js';
import { createGatehouseMiddleware } from '../../src/index.js';
import { ManualClock } from '../../src/util/clock.js';
import { createLogger } from '../../src/util/log.js';
import { TestBrowser } from '../helpers/browser.js';
import { runCli } from '../helpers/cli.js';
import { writeServeConfig } from '../helpers/config.js';
import { useTestIdp } from '../helpers/devIdp.js';
import { type CollectedSpan, startOtlpCollector } from '../helpers/otlpCollector.js';
import { freePort, login, startStack, TEST_SECRET } from '../helpers/stack.js';

/**
 * OpenTelemetry tracing against an in-process OTLP/HTTP collector: the spans a request, its
 * decision, the session read, one refresh with a crowd waiting on it, the IdP calls and the
 * upstream call make, their parents, the `traceparent` the upstream receives — and that nothing
 * secret is exported. Off (the default), no span is exported and no header is added.
 */
const TTL = 300; // dev IdP access token lifetime, seconds
const SPAN_KIND_SERVER = 2;
const SPAN_KIND_CLIENT = 3;
/** A client's own trace context (W3C Trace Context §3.2). */
const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_PARENT = '00f067aa0ba902b7';

type Echo = { headers: Record<string, string | undefined> };

/** Long enough that a chance match is impossible, short enough to catch a truncated value. */
const FRAGMENT = 16;
function assertNotIn(text: string, secret: string, what: string): void {
  assert.ok(secret.length >= FRAGMENT, `${what}: expected a value`);
  for (let at = 0; at + FRAGMENT <= secret.length; at++) {
    assert.ok(
      !text.includes(secret.slice(at, at + FRAGMENT)),
      `${what} is in the exported spans (offset ${at})`,
    );
  }
}

function traceparentOf(echo: Echo): { traceId: string; parentId: string } {
  const tp = echo.headers.traceparent;
  assert.ok(tp, 'the upstream received a traceparent');
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/.exec(tp);
  assert.ok(m, `a W3C traceparent: ${tp}`);
  return { traceId: m[1]!, parentId: m[2]! };
}

describe('tracing (OpenTelemetry, OTLP/HTTP)', () => {
  const idp = useTestIdp({ tokenDelayMs: 300 });

  it('exports request, decision, store, refresh, IdP and upstream spans; the upstream gets the traceparent; no secret leaves', async () => {
    const collector = await startOtlpCollector();
    const issued: IssuedTokens[] = [];
    const unwatch = idp.onTokens((t) => issued.push(t));
    const clock = new ManualClock();
    const s = await startStack({
      idpInstance: idp,
      clock,
      config: {
        tracing: { enabled: true, otlpEndpoint: collector.url, serviceName: 'gatehouse-test' },
        // The access token travels to the upstream: it must still never reach a span.
        headers: { passAccessToken: true },
      },
    });
    const b = new TestBrowser();
    let plain: Echo;
    let continued: Echo;
    try {
      assert.equal((await login(s, b)).at(-1)!.status, 200);
      plain = (await b.request(`${s.url}/plain?q=secret-query-value`, { kind: 'api' })).json() as Echo;
      continued = (
        await b.request(`${s.url}/continued`, {
          kind: 'api',
          headers: { traceparent: `00-${CLIENT_TRACE}-${CLIENT_PARENT}-01`, tracestate: 'client=1' },
        })
      ).json() as Echo;

      // Expiry with a crowd: 50 requests, one grant (the slow token endpoint keeps it in flight).
      idp.setProfiles(['token-endpoint-slow']);
      idp.reset();
      clock.advance(TTL * 1000 + 1000);
      const crowd = await Promise.all(
        Array.from({ length: 50 }, (_, i) => b.request(`${s.url}/crowd/${i}`, { kind: 'api' })),
      );
      assert.deepEqual(
        crowd.map((r) => r.status),
        Array(50).fill(200),
      );
      assert.equal(idp.stats().grants.refresh_token, 1, 'one refresh grant');
    } finally {
      idp.setProfiles([]);
      unwatch();
      // Closing the gateway flushes the exporter: every span is at the collector when it resolves.
      await s.close();
      await collector.close();
    }

    const spans = collector.spans;
    const named = (name: string) => spans.filter((x) => x.name === name);
    const byId = new Map(spans.map((x) => [x.spanId, x]));
    const parentOf = (x: CollectedSpan) => (x.parentSpanId ? byId.get(x.parentSpanId) : undefined);
    for (const name of [
      'gatehouse.request',
      'gatehouse.decision',
      'gatehouse.store.get',
      'gatehouse.refresh',
      'gatehouse.idp',
      'gatehouse.upstream',
    ]) {
      assert.ok(named(name).length > 0, `a ${name} span was exported`);
    }
    assert.ok(
      spans.every((x) => x.service === 'gatehouse-test'),
      'service.name from tracing.serviceName',
    );

    // The plain request: request → decision → store read; request → upstream, whose id the upstream got.
    const tp = traceparentOf(plain);
    const upstreamSpan = byId.get(tp.parentId);
    assert.ok(upstreamSpan, 'the traceparent names an exported span');
    assert.equal(upstreamSpan.name, 'gatehouse.upstream');
    assert.equal(upstreamSpan.kind, SPAN_KIND_CLIENT);
    assert.equal(upstreamSpan.attributes['http.response.status_code'], 200);
    const request = parentOf(upstreamSpan);
    assert.ok(request, 'the upstream span has a parent');
    assert.equal(request.name, 'gatehouse.request');
    assert.equal(request.traceId, tp.traceId, 'the upstream is in the request’s trace');
    assert.equal(request.parentSpanId, undefined, 'a request without traceparent starts a trace');
    assert.equal(request.kind, SPAN_KIND_SERVER);
    assert.equal(request.attributes['http.request.method'], 'GET');
    assert.equal(request.attributes['url.path'], '/plain', 'the path, never the query');
    assert.equal(request.attributes['http.response.status_code'], 200);
    assert.equal(request.attributes['gatehouse.decision'], 'allow');
    assert.equal(request.attributes['gatehouse.route.id'], 'default');
    const decision = spans.find((x) => x.name === 'gatehouse.decision' && x.parentSpanId === request.spanId);
    assert.ok(decision, 'the decision is a child of the request');
    assert.equal(decision.attributes['gatehouse.decision'], 'allow');
    assert.ok(
      spans.some((x) => x.name === 'gatehouse.store.get' && x.parentSpanId === decision.spanId),
      'the session read is a child of the decision',
    );

    // A client's traceparent is continued: same trace, the client's span as parent; tracestate kept.
    const ctp = traceparentOf(continued);
    assert.equal(ctp.traceId, CLIENT_TRACE);
    assert.notEqual(ctp.parentId, CLIENT_PARENT, 'the upstream’s parent is our span, not the client’s');
    assert.equal(continued.headers.tracestate, 'client=1');
    const continuedRequest = parentOf(byId.get(ctp.parentId)!);
    assert.equal(continuedRequest?.name, 'gatehouse.request');
    assert.equal(continuedRequest?.parentSpanId, CLIENT_PARENT);

    // One refresh span for the crowd, with the number who waited; the grant's IdP call under it.
    const refreshes = named('gatehouse.refresh');
    assert.equal(refreshes.length, 1, 'exactly one refresh span');
    const refresh = refreshes[0]!;
    assert.ok(Number(refresh.attributes['gatehouse.refresh.waiters']) >= 1, 'waiters counted');
    assert.equal(refresh.attributes['gatehouse.refresh.outcome'], 'ok');
    assert.equal(parentOf(refresh)?.name, 'gatehouse.decision', 'refresh inside the decision that needed it');
    const grant = spans.find((x) => x.name === 'gatehouse.idp' && x.parentSpanId === refresh.spanId);
    assert.ok(grant, 'the token call is a child of the refresh');
    assert.equal(grant.kind, SPAN_KIND_CLIENT);
    assert.equal(grant.attributes['http.request.method'], 'POST');
    assert.equal(grant.attributes['url.path'], new URL(`${idp.issuer}/token`).pathname);
    assert.equal(grant.attributes['http.response.status_code'], 200);

    // Nothing secret in any payload: tokens (login and refresh), cookies, the secrets, the query.
    const all = collector.payloads.join('\n');
    const tokens = issued.flatMap((t) => [t.accessToken, t.refreshToken, t.idToken]);
    assert.equal(tokens.filter((v) => v !== undefined).length, 6, 'access, refresh and ID token, twice');
    for (const [i, token] of tokens.entries()) assertNotIn(all, token!, `token ${i}`);
    for (const [name, value] of b.cookies(new URL(s.url).host)) assertNotIn(all, value, `cookie ${name}`);
    assertNotIn(all, TEST_SECRET, 'session.secret');
    assert.ok(!all.includes('gatehouse-dev-secret'), 'the client secret');
    assert.ok(!all.includes('secret-query-value'), 'a query string');
    assert.doesNotMatch(all, /eyJ[A-Za-z0-9_-]{10,}\.eyJ/, 'no JWT');
    assert.ok(
      spans.every((x) => !String(x.attributes['url.path'] ?? '').includes('?')),
      'no span carries a query (the callback’s code and state)',
    );
  });

  it('off by default: nothing exported, no traceparent added, a client’s passes as before', async () => {
    const collector = await startOtlpCollector();
    const s = await startStack({
      idpInstance: idp,
      // Even with the collector's address in the environment's place, off means off.
      config: { tracing: { otlpEndpoint: collector.url } },
    });
    const b = new TestBrowser();
    try {
      assert.equal(s.gw.engine.ctx.tracing?.enabled, false);
      assert.equal((await login(s, b)).at(-1)!.status, 200);
      const plain = (await b.request(`${s.url}/plain`, { kind: 'api' })).json() as Echo;
      assert.equal(plain.headers.traceparent, undefined, 'no traceparent added');
      const tp = `00-${CLIENT_TRACE}-${CLIENT_PARENT}-01`;
      const passed = (
        await b.request(`${s.url}/p`, { kind: 'api', headers: { traceparent: tp } })
      ).json() as Echo;
      assert.equal(passed.headers.traceparent, tp, 'a client’s traceparent is not touched');
    } finally {
      await s.close();
      await collector.close();
    }
    assert.equal(collector.payloads.length, 0, 'nothing was exported');
  });

  it('the Node middleware: a request span with the decision under it', async () => {
    const collector = await startOtlpCollector();
    const port = await freePort();
    const mw = createGatehouseMiddleware(
      {
        publicUrl: `http://127.0.0.1:${port}`,
        provider: { issuer: idp.issuer, clientId: 'gatehouse', clientSecret: 'gatehouse-dev-secret' },
        session: { secret: TEST_SECRET },
        tracing: { enabled: true, otlpEndpoint: collector.url },
      },
      { env: {}, logger: createLogger('silent') },
    );
    const server = createServer((req, res) => mw.handler(req, res, () => res.end('app')));
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    try {
      await mw.ready;
      const r = await new TestBrowser().request(`http://127.0.0.1:${port}/api/x`, { kind: 'api' });
      assert.equal(r.status, 401);
    } finally {
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
      await mw.close();
      await collector.close();
    }
    const request = collector.spans.find((x) => x.name === 'gatehouse.request');
    assert.ok(request, 'a request span');
    assert.equal(request.attributes['http.response.status_code'], 401);
    assert.equal(request.attributes['url.path'], '/api/x');
    const decision = collector.spans.find((x) => x.name === 'gatehouse.decision');
    assert.equal(decision?.parentSpanId, request.spanId);
    assert.equal(decision?.attributes['gatehouse.decision'], 'error');
    assert.equal(request.attributes['gatehouse.decision'], 'no_session', 'the request log’s decision');
  });

  it('a collector that refuses spans: requests unaffected, one warning with the number dropped', async () => {
    const collector = await startOtlpCollector({ refuse: true });
    const s = await startStack({
      idpInstance: idp,
      config: { tracing: { enabled: true, otlpEndpoint: collector.url } },
    });
    const b = new TestBrowser();
    try {
      assert.equal((await login(s, b)).at(-1)!.status, 200);
      assert.equal((await b.request(`${s.url}/x`, { kind: 'api' })).status, 200);
    } finally {
      await s.close(); // flushes: the export is refused now
      await collector.close();
    }
    const warned = s.logs.filter((l) =>
      String(l.msg).startsWith('tracing: the collector did not take spans'),
    );
    assert.equal(warned.length, 1, 'one warning, not one per batch');
    assert.ok(Number(warned[0]!.dropped) > 0, 'the dropped spans are counted');
    assert.equal(warned[0]!.otlpEndpoint, collector.url);
  });

  it('on without the OpenTelemetry packages: exit 78 naming them and the npm command', async () => {
    const file = writeServeConfig(['tracing:', '  enabled: true']);
    const hide = resolve('test/helpers/withoutOpenTelemetry.mjs');
    const { code, stderr } = await runCli(['serve', '--config', file], { NODE_OPTIONS: `--import=${hide}` });
    assert.equal(code, 78, stderr);
    assert.match(
      stderr,
      /tracing\.enabled: the OpenTelemetry packages are not installed \(missing: @opentelemetry\/api, /,
    );
    assert.match(stderr, /npm install @opentelemetry\/api@~1\.9\.0 @opentelemetry\/core@/);
    assert.match(stderr, /@opentelemetry\/exporter-trace-otlp-http@/);
    assert.match(stderr, /or set tracing\.enabled: false/);
  });
});
