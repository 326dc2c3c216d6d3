import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The demo upstream: a page that shows the identity headers it received from Gatehouse and polls
 * a JSON endpoint every second, like a dashboard panel — so token refresh under load is visible.
 */
const PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Gatehouse demo app</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;color:#1d2330}
table{border-collapse:collapse}td,th{border:1px solid #d5d9e0;padding:.35rem .6rem;text-align:left;vertical-align:top}
.ok{color:#137333}.bad{color:#b3261e}code{word-break:break-all}</style></head>
<body>
<h1>Gatehouse demo app</h1>
<p>This page sits behind Gatehouse. These are the identity headers it received:</p>
<table id="identity"><tbody>__ROWS__</tbody></table>
<h2>Live panel</h2>
<p>Polls <code>/api/whoami</code> every second, like a dashboard panel: <span id="panel" aria-live="polite">starting…</span></p>
<p>Polls so far: <span id="count">0</span>, failures: <span id="failures">0</span></p>
<p><a id="logout" href="/oauth2/logout">Sign out</a></p>
<script>
let n = 0, failed = 0;
async function poll() {
  try {
    const r = await fetch('/api/whoami', { headers: { accept: 'application/json' } });
    const body = await r.json();
    n++;
    document.getElementById('panel').textContent = r.ok ? ('ok: ' + body.user + ' at ' + body.time) : ('HTTP ' + r.status + ': ' + (body.reason || body.error));
    document.getElementById('panel').className = r.ok ? 'ok' : 'bad';
    if (!r.ok) failed++;
  } catch (e) { failed++; document.getElementById('panel').textContent = 'error: ' + e; }
  document.getElementById('count').textContent = n;
  document.getElementById('failures').textContent = failed;
}
poll(); setInterval(poll, 1000);
</script>
</body></html>`;

const SHOWN = [
  'x-forwarded-user',
  'x-forwarded-email',
  'x-forwarded-preferred-username',
  'x-forwarded-groups',
];

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function startDemoApp(port = 0, host = '127.0.0.1'): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const user = req.headers['x-forwarded-user'];
    if ((req.url ?? '').startsWith('/api/whoami')) {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          user: user ?? null,
          groups: req.headers['x-forwarded-groups'] ?? null,
          time: new Date().toISOString(),
        }),
      );
      return;
    }
    const rows = SHOWN.map(
      (h) =>
        `<tr><th scope="row">${h}</th><td><code data-header="${h}">${esc(String(req.headers[h] ?? '(none)'))}</code></td></tr>`,
    ).join('');
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(PAGE.replace('__ROWS__', rows));
  });
  return new Promise((resolve) =>
    server.listen(port, host, () => {
      const a = server.address() as AddressInfo;
      resolve({ url: `http://${host}:${a.port}`, server });
    }),
  );
}
