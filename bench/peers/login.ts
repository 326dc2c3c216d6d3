/**
 * Logs a user in through any relying party in front of the bench IdP, the way a browser does: follow
 * redirects, keep cookies per origin, fill in oidc-provider's own login and consent pages. Returns the
 * `cookie` header the load generator sends, after checking it really reaches the upstream (200).
 */
import { TestBrowser } from '../../test/helpers/browser.js';

function formAction(html: string): string {
  const m = /<form[^>]*action="([^"]+)"/.exec(html);
  if (!m) throw new Error(`expected a form on the IdP page: ${html.slice(0, 200)}`);
  return m[1]!.replace(/&#x2F;/g, '/').replace(/&amp;/g, '&');
}

export async function loginThrough(
  rpUrl: string,
  idpUrl: string,
  path = '/api/panel',
  user = 'alice',
  rewrite: (url: string, browser: TestBrowser) => string = (u) => u,
): Promise<{ browser: TestBrowser; cookie: string }> {
  const b = new TestBrowser();
  let url = rpUrl + path;
  let r = await b.request(url);
  const hops: string[] = [`${r.status}`];
  for (let i = 0; i < 25; i++) {
    if (r.status >= 300 && r.status < 400 && r.location) {
      url = rewrite(new URL(r.location, url).href, b);
      r = await b.request(url);
      hops.push(`${r.status} ${new URL(url).pathname}`);
      continue;
    }
    if (r.status === 200 && url.startsWith(idpUrl)) {
      const action = new URL(formAction(r.body), url).href;
      const body = r.body.includes('name="login"')
        ? `prompt=login&login=${user}&password=pw`
        : 'prompt=consent';
      r = await b.request(action, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      url = action;
      hops.push(`${r.status} POST ${new URL(url).pathname}`);
      continue;
    }
    break;
  }
  if (r.status !== 200 || url.startsWith(idpUrl))
    throw new Error(`login through ${rpUrl} did not end on the app: ${hops.join(' → ')}`);
  const cookie = cookieHeader(b, rpUrl);
  return { browser: b, cookie };
}

export function cookieHeader(b: TestBrowser, url: string): string {
  return [...b.cookies(new URL(url).host)].map(([k, v]) => `${k}=${v}`).join('; ');
}

/** The one check that makes an error count honest: this cookie gets the upstream's 200, not a login. */
export async function answers200(url: string, cookie: string): Promise<{ ok: boolean; status: number }> {
  const { request } = await import('undici');
  const r = await request(url, { headers: cookie ? { cookie } : {} });
  const body = await r.body.text();
  return { ok: r.statusCode === 200 && body.includes('"panel"'), status: r.statusCode };
}
