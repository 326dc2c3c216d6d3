import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { caddySite, substitute } from './helpers.js';

// The front-door tests run the configs documented in docs/front-doors.md with our ports put in.
// A port that starts like a documented one (30005 vs 3000) once produced a Caddy config pointing
// at port 412345, and Caddy answered 502 (a red CI run).
describe('documented proxy configs on test ports', () => {
  it('a gateway port that begins with the upstream port is kept whole', () => {
    const site = caddySite({ port: 12345, gatehousePort: 30005, upstreamPort: 41234 });
    assert.match(site, /forward_auth 127\.0\.0\.1:30005 \{/);
    assert.match(site, /handle \/oauth2\/\* \{\s+reverse_proxy 127\.0\.0\.1:30005\n/);
    assert.match(site, /\t\t\treverse_proxy 127\.0\.0\.1:41234\n/);
    assert.match(site, /^http:\/\/127\.0\.0\.1:12345 \{/);
  });

  it('a proxy port that begins with a documented port is kept whole', () => {
    const site = caddySite({ port: 30001, gatehousePort: 41801, upstreamPort: 30002 });
    assert.match(site, /^http:\/\/127\.0\.0\.1:30001 \{/);
    assert.match(site, /forward_auth 127\.0\.0\.1:41801 \{/);
    assert.match(site, /\t\t\treverse_proxy 127\.0\.0\.1:30002\n/);
  });

  it('the Caddy block strips underscore and dot header names and the client X-Forwarded-* before forward_auth and reverse_proxy', () => {
    const site = caddySite({ port: 12345, gatehousePort: 30005, upstreamPort: 41234 });
    const route = site.slice(site.indexOf('route {'));
    const auth = route.search(/^\s*forward_auth /m); // the directive, not a comment naming it
    for (const line of [
      'request_header -*_*\n',
      'request_header -*.*\n',
      'request_header -X-Forwarded-*\n',
      'request_header -X-Original-URL\n',
      'request_header -Forwarded\n',
    ]) {
      const at = route.indexOf(line);
      assert.ok(at !== -1 && at < auth, `${line.trim()} inside route, before forward_auth`);
    }
  });

  it('replaces whole addresses only, in one pass, and names what the document lost', () => {
    assert.equal(substitute('a:3000 a:30001 b', { 'a:3000': 'a:30001', b: 'c' }), 'a:30001 a:30001 c');
    assert.throws(() => substitute('x', { y: 'z' }), /documented config no longer contains "y"/);
  });
});
