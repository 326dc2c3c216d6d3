import assert from 'node:assert/strict';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { describe, test } from 'node:test';
import { isNavigation, type RequestFacts } from '../../src/engine/facts.js';
import {
  refuseTarget,
  STRICT_TARGET,
  type TargetRefusal,
  targetRefusal,
} from '../../src/engine/requestTarget.js';
import { factsFromNode, forwardedFactsFromNode } from '../../src/http/requestFacts.js';

function facts(over: Partial<RequestFacts> = {}): RequestFacts {
  return {
    method: 'GET',
    path: '/',
    url: '/',
    host: '127.0.0.1:4180',
    secure: false,
    cookieHeader: undefined,
    accept: undefined,
    secFetchMode: undefined,
    secFetchDest: undefined,
    xRequestedWith: undefined,
    authorization: undefined,
    secFetchSite: undefined,
    origin: undefined,
    referer: undefined,
    clientIp: '127.0.0.1',
    requestId: 'r1',
    ...over,
  };
}

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

describe('isNavigation', () => {
  test('Sec-Fetch-Mode navigate is a navigation', () => {
    assert.equal(isNavigation(facts({ secFetchMode: 'navigate', accept: BROWSER_ACCEPT })), true);
    assert.equal(isNavigation(facts({ secFetchMode: 'navigate', secFetchDest: 'document' })), true);
  });

  test('navigate into a frame or embed is not a top-level navigation', () => {
    assert.equal(
      isNavigation(facts({ secFetchMode: 'navigate', secFetchDest: 'iframe', accept: BROWSER_ACCEPT })),
      false,
    );
  });

  test('Sec-Fetch-Mode cors / no-cors / same-origin are API calls even when Accept has text/html', () => {
    for (const mode of ['cors', 'no-cors', 'same-origin', 'websocket']) {
      assert.equal(isNavigation(facts({ secFetchMode: mode, accept: BROWSER_ACCEPT })), false, mode);
    }
  });

  test('Accept text/html without Sec-Fetch headers is a navigation (older browsers)', () => {
    assert.equal(isNavigation(facts({ accept: BROWSER_ACCEPT })), true);
    assert.equal(isNavigation(facts({ accept: 'text/html' })), true);
  });

  test('X-Requested-With makes it an API call', () => {
    assert.equal(isNavigation(facts({ accept: BROWSER_ACCEPT, xRequestedWith: 'XMLHttpRequest' })), false);
  });

  test('no Accept, JSON, */*, or event-stream is an API call', () => {
    assert.equal(isNavigation(facts()), false);
    assert.equal(isNavigation(facts({ accept: 'application/json' })), false);
    assert.equal(isNavigation(facts({ accept: '*/*' })), false);
    assert.equal(isNavigation(facts({ accept: 'text/event-stream' })), false);
  });

  test('POST and other methods are never navigations', () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      assert.equal(
        isNavigation(facts({ method, secFetchMode: 'navigate', accept: BROWSER_ACCEPT })),
        false,
        method,
      );
    }
  });

  test('HEAD behaves like GET', () => {
    assert.equal(isNavigation(facts({ method: 'HEAD', accept: BROWSER_ACCEPT })), true);
    assert.equal(isNavigation(facts({ method: 'HEAD', secFetchMode: 'cors' })), false);
  });
});

describe('refuseTarget: targets the gateway and the app could read differently', () => {
  const refused: Array<[string, TargetRefusal]> = [
    ['/admin#x', 'fragment'],
    ['/admin#', 'fragment'],
    ['/#/admin', 'fragment'],
    ['/x?q=1#frag', 'fragment'],
    ['/x?q=#', 'fragment'],
    ['/public\\..\\admin', 'backslash'],
    ['/\\admin', 'backslash'],
    ['/public%5c..%5cadmin', 'backslash'],
    ['/public%5C..%5Cadmin', 'backslash'],
    ['/admin%252f', 'encoded_percent'],
    ['/%252e%252e/admin', 'encoded_percent'],
    ['/%252E%252E/admin', 'encoded_percent'],
    ['/a%255cb', 'encoded_percent'],
    ['/a%25', 'encoded_percent'],
    ['/a%25?q=1', 'encoded_percent'],
    // F3: encoded control characters (NUL-truncating or trimming upstreams read /admin)
    ['/admin%00', 'encoded_control'],
    ['/admin%00.html', 'encoded_control'],
    ['/admin%0a', 'encoded_control'],
    ['/admin%0D%0A', 'encoded_control'],
    ['/admin%09/x', 'encoded_control'],
    ['/admin%1f', 'encoded_control'],
    ['/admin%7F', 'encoded_control'],
    // F2: escapes that are not valid UTF-8 (overlong `.` and `/`, stray bytes, surrogates)
    ['/public/%c0%ae%c0%ae/admin', 'invalid_utf8'],
    ['/public/%C0%AE%C0%AE/admin', 'invalid_utf8'],
    ['/public/%e0%80%ae%e0%80%ae/admin', 'invalid_utf8'],
    ['/public/..%c0%afadmin', 'invalid_utf8'],
    ['/%80admin', 'invalid_utf8'],
    ['/caf%C3', 'invalid_utf8'],
    ['/%ed%a0%80', 'invalid_utf8'],
    ['/%f4%90%80%80', 'invalid_utf8'],
    // unencoded non-ASCII (a forward-auth header, read as Latin-1, can carry it)
    ['/x\u00c0\u00ae', 'raw_non_ascii'],
    ['/caf\u00c3\u00a9', 'raw_non_ascii'],
    ['/adm\u0131n', 'raw_non_ascii'],
    // the absolute form: Express routes it by its pathname, the gateway would read /http:/…
    ['http://app.example.com/admin', 'not_origin_form'],
    ['HTTP://x/admin?x=1', 'not_origin_form'],
    ['*', 'not_origin_form'],
    ['admin', 'not_origin_form'],
    ['', 'not_origin_form'],
    // `%` without two hex digits: IIS/http.sys decode %uXXXX
    ['/public/%u002e%u002e/admin', 'bad_escape'],
    ['/%u0061dmin', 'bad_escape'],
    ['/admin%2', 'bad_escape'],
    ['/admin%zz', 'bad_escape'],
    ['/%', 'bad_escape'],
  ];
  for (const [target, why] of refused) {
    test(`${JSON.stringify(target)} → ${why}`, () => {
      assert.equal(refuseTarget(target), why);
      assert.equal(refuseTarget(target, STRICT_TARGET), why);
    });
  }

  const fine = [
    '/',
    '/admin',
    '/Admin',
    '/%41dmin',
    '/admin%23',
    '/admin%2Fusers',
    '/caf%C3%A9',
    '/search?q=%25',
    '/search?q=100%25&x=%252f',
    '/search?path=a\\b',
    '/search?q=%5c',
    '/public/../admin',
    '/adm%C4%B1n',
    '/%EF%BD%81dmin',
    '/%F0%9F%98%80',
    '/search?q=caf\u00c3\u00a9',
    '/admin%20x',
    '/search?q=%0a%00',
    '/search?q=%c0%ae',
    '/search?q=%u0061&r=%',
  ];
  for (const target of fine) {
    test(`${JSON.stringify(target)} is accepted`, () => {
      assert.equal(refuseTarget(target), undefined);
    });
  }

  test('proxy.allowEncodedPercent accepts %25 in the path, never # or a backslash', () => {
    const lenient = { allowEncodedPercent: true };
    assert.equal(refuseTarget('/admin%252f', lenient), undefined);
    assert.equal(refuseTarget('/%252e%252e/admin', lenient), undefined);
    assert.equal(refuseTarget('/a%25#x', lenient), 'fragment');
    assert.equal(refuseTarget('/a%255c\\', lenient), 'backslash');
    assert.equal(refuseTarget('/a%5c', lenient), 'backslash');
  });

  test('with proxy.allowEncodedPercent, the path decoded once must hold too (%2500, %25c0%25ae)', () => {
    const lenient = { allowEncodedPercent: true };
    assert.equal(refuseTarget('/admin%2500', lenient), 'encoded_control');
    assert.equal(refuseTarget('/public/%25c0%25ae%25c0%25ae/admin', lenient), 'invalid_utf8');
    assert.equal(refuseTarget('/caf%25C3%25A9', lenient), undefined);
  });

  test('the refusal is a 400 bad_request decision with a reason that does not echo the target', () => {
    for (const why of [
      'fragment',
      'backslash',
      'encoded_percent',
      'encoded_control',
      'invalid_utf8',
      'raw_non_ascii',
    ] as const) {
      const d = targetRefusal(why);
      assert.equal(d.type, 'error');
      assert.equal(d.status, 400);
      assert.equal(d.code, 'bad_request');
      assert.ok(d.reason.length > 20);
      assert.deepEqual(d.setCookies, []);
    }
  });
});

/** A request as node:http hands it over (no socket I/O happens). */
function incoming(url: string, headers: Record<string, string> = {}): IncomingMessage {
  const req = new IncomingMessage(new Socket());
  req.url = url;
  req.method = 'GET';
  const all = { host: 'gw.example', ...headers };
  req.headers = all;
  req.headersDistinct = Object.fromEntries(Object.entries(all).map(([k, v]) => [k, [v]]));
  return req;
}

describe('factsFromNode: every front door refuses a bad target before routing', () => {
  for (const target of [
    '/admin#x',
    '/oauth2/\\metrics',
    '/healthz#',
    '/oauth2/start%5c',
    '/a%252f',
    '/oauth2/start%00',
    '/admin%0a',
    '/public/%c0%ae%c0%ae/admin',
  ]) {
    test(`${JSON.stringify(target)} is refused with a 400 decision`, () => {
      const built = factsFromNode(incoming(target), false, 'r1');
      assert.equal(built.ok, false);
      assert.equal(!built.ok && built.refusal.status, 400);
      assert.equal(built.facts.requestId, 'r1', 'facts are there to shape the answer');
    });
  }

  test('a clean target gives the canonical facts; the query is not a path', () => {
    const built = factsFromNode(incoming('/public/../Admin?q=%25&r=a\\b'), false, 'r1');
    assert.ok(built.ok);
    assert.equal(built.facts.path, '/Admin', 'case is kept: the upstream gets the canonical path');
    assert.equal(built.facts.url, '/Admin?q=%25&r=a\\b');
  });

  test('the middleware decides on the raw URL it is given (originalUrl), not req.url', () => {
    assert.equal(factsFromNode(incoming('/x'), false, 'r1', '/mounted/admin#x').ok, false);
  });

  test('proxy.allowEncodedPercent is honoured', () => {
    const built = factsFromNode(incoming('/files/100%25'), false, 'r1', undefined, {
      allowEncodedPercent: true,
    });
    assert.ok(built.ok);
    assert.equal(built.facts.path, '/files/100%25');
  });
});

describe('forwardedFactsFromNode: a bad forwarded target is refused the same way', () => {
  const described = (uri: string, name = 'x-original-uri') =>
    incoming('/oauth2/auth', {
      [name]: uri,
      'x-forwarded-method': 'GET',
      'x-forwarded-host': 'app.example',
    });
  for (const name of ['x-original-uri', 'x-forwarded-uri']) {
    for (const uri of [
      '/admin#x',
      '/public\\..\\admin',
      '/public%5c..%5cadmin',
      '/%252e%252e/admin',
      '/admin%00',
      '/public/%c0%ae%c0%ae/admin',
      '/public/\u00c0\u00ae\u00c0\u00ae/admin',
    ]) {
      test(`${name}: ${JSON.stringify(uri)} → 400 naming the header`, () => {
        const built = forwardedFactsFromNode(described(uri, name), false, 'r1', 'http');
        assert.equal(built.ok, false);
        assert.match(
          !built.ok ? built.reason : '',
          new RegExp(`^${name === 'x-original-uri' ? 'X-Original-URI' : 'X-Forwarded-Uri'}: `),
        );
        assert.ok(!built.ok && built.facts, 'the facts shape the answer (page or JSON)');
      });
    }
  }

  test('a clean forwarded target passes', () => {
    const built = forwardedFactsFromNode(described('/Admin?q=%25'), false, 'r1', 'http');
    assert.ok(built.ok);
    assert.equal(built.facts.path, '/Admin');
  });
});
