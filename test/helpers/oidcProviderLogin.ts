import type { Reply, TestBrowser } from './browser.js';

/** The action of the first form on an `oidc-provider` page (its devInteractions login and consent). */
export function formAction(html: string): string {
  const m = /<form[^>]*action="([^"]+)"/.exec(html);
  if (!m) throw new Error(`expected a form on the provider's page: ${html.slice(0, 200)}`);
  return m[1]!.replace(/&#x2F;/g, '/').replace(/&amp;/g, '&');
}

export interface OpLogin {
  browser: TestBrowser;
  /** Where the browser starts (a protected page of the relying party). */
  startUrl: string;
  /** The provider's origin: pages from there get their form filled in. */
  opUrl: string;
  /** The account to sign in as (devInteractions accepts any password). */
  user: string;
  /** Rewrites each redirect target before it is followed (a load balancer's choice of replica). */
  rewrite?: (url: string) => string;
}

export interface OpLoginEnd {
  reply: Reply;
  /** The URL the last reply came from. */
  url: string;
  /** Status and path of every step, for an error message. */
  hops: string[];
}

/**
 * Walks `oidc-provider`'s own login and consent pages like a user would: follows redirects, keeps
 * cookies (the TestBrowser), submits the login form, then consent, until a page that is not the
 * provider's answers (or 25 steps). Shared by the interop tests and `npm run bench:peers`.
 */
export async function walkOpLogin(o: OpLogin): Promise<OpLoginEnd> {
  const b = o.browser;
  let url = o.startUrl;
  let reply = await b.request(url);
  const hops = [`${reply.status} ${new URL(url).pathname}`];
  for (let i = 0; i < 25; i++) {
    if (reply.status >= 300 && reply.status < 400 && reply.location) {
      url = new URL(reply.location, url).href;
      if (o.rewrite) url = o.rewrite(url);
      reply = await b.request(url);
      hops.push(`${reply.status} ${new URL(url).pathname}`);
      continue;
    }
    if (reply.status === 200 && url.startsWith(o.opUrl)) {
      const action = new URL(formAction(reply.body), url).href;
      const body = reply.body.includes('name="login"')
        ? `prompt=login&login=${encodeURIComponent(o.user)}&password=pw`
        : 'prompt=consent';
      reply = await b.request(action, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      url = action;
      hops.push(`${reply.status} POST ${new URL(url).pathname}`);
      continue;
    }
    return { reply, url, hops };
  }
  throw new Error(`login did not finish in 25 steps: ${hops.join(' → ')}`);
}
