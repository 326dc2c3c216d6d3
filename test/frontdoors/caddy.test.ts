import { forwardAuthSuite } from './forwardAuthSuite.js';
import { startCaddy } from './helpers.js';
import { wsgiSmugglingSuite } from './wsgiSuite.js';

// Caddy `forward_auth` → /oauth2/forward-auth with `copy_headers`, /oauth2/* reverse-proxied:
// the site block from docs/front-doors.md, run by a real caddy binary.
forwardAuthSuite('Caddy', startCaddy);

// The same block in front of a Python WSGI application: `request_header -*_*` / `-*.*` at work.
wsgiSmugglingSuite('Caddy', startCaddy);
