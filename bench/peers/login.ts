/**
 * Logs a user in through any relying party in front of the bench IdP, the way a browser does: follow
 * redirects, keep cookies per origin, fill in oidc-provider's own login and consent pages. Returns the
 * `cookie` header the load generator sends, after checking it really reaches the upstream (200).
 */
import { TestBrowser } from '../../test/helpers/browser.js';
import { walkOpLogin } from '../../test/helpers/oidcProviderLogin.js';

export async function loginThrough(
  rpUrl: string,
  idpUrl: string,
  path = '/api/panel',
  user = 'alice',
  rewrite: (url: string, browser: TestBrowser) => string = (u) => u,
): Promise<{ browser: TestBrowser; cookie: string }> {
  const b = new TestBrowser();
  const end = await walkOpLogin({
    browser: b,
    startUrl: rpUrl + path,
    opUrl: idpUrl,
    user,
    rewrite: (u) => rewrite(u, b),
  });
  if (end.reply.status !== 200 || end.url.startsWith(idpUrl))
    throw new Error(`login through ${rpUrl} did not end on the app: ${end.hops.join(' → ')}`);
  return { browser: b, cookie: cookieHeader(b, rpUrl) };
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
