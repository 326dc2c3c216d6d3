import { forwardAuthSuite } from './forwardAuthSuite.js';
import { startCaddy } from './helpers.js';

// Caddy `forward_auth` → /oauth2/forward-auth with `copy_headers`, /oauth2/* reverse-proxied:
// the site block from docs/front-doors.md, run by a real caddy binary.
forwardAuthSuite('Caddy', startCaddy);
