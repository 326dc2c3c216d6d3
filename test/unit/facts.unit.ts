import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isNavigation, type RequestFacts } from '../../src/engine/facts.js';

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
