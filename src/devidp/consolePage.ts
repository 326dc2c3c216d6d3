// GET /__admin/: the live console, one HTML page with its style and script inline. The
// Content-Security-Policy allows exactly those two blocks (by SHA-256) and requests to this
// origin: no external script, style, image or frame can load, and no injected markup can run.
// The profile catalog and fault form are rendered here; everything live comes from the script.
import { createHash } from 'node:crypto';
import { CONSOLE_SCRIPT } from './consoleScript.js';
import { FAULT_ENDPOINTS, FAULT_KINDS } from './faults.js';
import { escapeHtml } from './http.js';
import { PROFILE_INFO } from './profiles.js';

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1b1d21}
header{display:flex;gap:1rem;align-items:baseline;padding:.8rem 1.5rem;background:#1b1d21;color:#fff}
header h1{font-size:1.15rem;margin:0}#status.ok{color:#9ae6b4}#status.error{color:#feb2b2}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(26rem,1fr));gap:1rem;padding:1rem 1.5rem}
section{background:#fff;border-radius:8px;box-shadow:0 1px 4px #0002;padding:.8rem 1rem;overflow:auto}
section.wide{grid-column:1/-1}h2{font-size:1rem;margin:0 0 .5rem}h3{font-size:.9rem;margin:.2rem 0}
table{border-collapse:collapse;width:100%;font-size:.85rem}th,td{text-align:left;padding:.15rem .4rem;border-bottom:1px solid #e2e4e8}
code,td{font-family:ui-monospace,monospace}fieldset{border:1px solid #e2e4e8;margin:0 0 .4rem}
label{margin-right:.8rem;white-space:nowrap}ul{list-style:none;padding:0;margin:0}.counts{margin:.1rem 0;color:#4a4f57}
input[type=number]{width:5rem}button{font:inherit;cursor:pointer}
.timeline{width:100%;height:auto;background:#fafbfc;border:1px solid #e2e4e8;border-radius:4px}
.timeline text{font:10px ui-monospace,monospace;fill:#4a4f57}
.bar.live{fill:#38a169}.bar.expired{fill:#a0aec0}.now{stroke:#1b1d21;stroke-dasharray:2 2}
.mark.refresh line{stroke:#2b6cb0;stroke-width:2}.mark.refresh circle{fill:#2b6cb0}
.mark.revoked line{stroke:#c53030;stroke-width:3}.family{margin-bottom:.8rem}`;

const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** Only this page's own style and script; fetch() only to this origin; nothing else at all. */
export const CONSOLE_CSP = [
  "default-src 'none'",
  `script-src ${hash(CONSOLE_SCRIPT)}`,
  `style-src ${hash(STYLE)}`,
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

function profileBoxes(): string {
  const kinds = [...new Set(PROFILE_INFO.map((p) => p.kind))];
  return kinds
    .map((kind) => {
      const boxes = PROFILE_INFO.filter((p) => p.kind === kind)
        .map(
          (p) =>
            `<label title="${escapeHtml(p.summary)}"><input type="checkbox" data-profile="${escapeHtml(p.name)}"> ${escapeHtml(p.name)}</label>`,
        )
        .join(' ');
      return `<fieldset><legend>${escapeHtml(kind)}</legend>${boxes}</fieldset>`;
    })
    .join('\n');
}

const options = (values: readonly string[]) =>
  values.map((v) => `<option>${escapeHtml(v)}</option>`).join('');

export function consolePage(issuer: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Live console · Gatehouse dev IdP</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>Gatehouse dev IdP · live console</h1><code>${escapeHtml(issuer)}</code><span id="status" role="status">connecting…</span></header>
<main>
<section aria-labelledby="h-profiles"><h2 id="h-profiles">Profiles</h2>
<p>Active: <code id="active-profiles">…</code></p>
${profileBoxes()}
</section>
<section aria-labelledby="h-faults"><h2 id="h-faults">Faults</h2>
<table><thead><tr><th>endpoint</th><th>kind</th><th>rule</th><th>fired</th><th></th></tr></thead><tbody id="faults"></tbody></table>
<form id="fault-form">
<label>endpoint <select name="endpoint">${options(FAULT_ENDPOINTS)}</select></label>
<label>kind <select name="kind">${options(FAULT_KINDS)}</select></label>
<label>status <input type="number" name="status" min="400" max="599"></label>
<label>nth <input type="number" name="nth" min="1"></label>
<label>times <input type="number" name="times" min="1"></label>
<label>latencyMs <input type="number" name="latencyMs" min="0"></label>
<button type="submit">Add fault</button> <button type="button" id="clear-faults">Clear faults</button>
</form>
</section>
<section aria-labelledby="h-users"><h2 id="h-users">Users</h2>
<table><thead><tr><th>username</th><th>sub</th><th>email</th><th>groups</th></tr></thead><tbody id="users"></tbody></table>
<p id="stats" class="counts"></p>
</section>
<section class="wide" aria-labelledby="h-families"><h2 id="h-families">Sessions and refresh-token families</h2>
<p class="counts">Each bar is an access token, from issue to expiry (green while valid); a blue mark is a refresh, a red one a revocation. Identifiers are SHA-256 fingerprints, never tokens.</p>
<ul id="families"></ul>
</section>
<section aria-labelledby="h-endpoints"><h2 id="h-endpoints">Requests by endpoint</h2>
<table><thead><tr><th>endpoint</th><th>requests</th><th>errors</th><th>last status</th><th>last grant</th><th>avg ms</th></tr></thead><tbody id="endpoints"></tbody></table>
</section>
<section class="wide" aria-labelledby="h-requests"><h2 id="h-requests">Recent requests</h2>
<table><thead><tr><th>time</th><th>method</th><th>endpoint</th><th>status</th><th>ms</th><th>grant</th><th>client</th><th>sub</th><th>error</th><th>token fingerprints</th></tr></thead><tbody id="requests"></tbody></table>
</section>
</main>
<script>${CONSOLE_SCRIPT}</script>
</body>
</html>
`;
}
