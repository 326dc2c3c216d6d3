import type { LookupAddress, LookupOptions } from 'node:dns';
import { Agent, request } from 'undici';
import type { Kind, Reply } from './browser.js';

/**
 * A cookie-keeping client for tests with several host names (routes by host): every name
 * resolves to 127.0.0.1, and cookies follow RFC 6265's host rules as a browser applies them — a
 * cookie with `Domain=.example.test` goes to every host under it, one without stays on the host
 * that set it (ports are not part of a cookie's scope, so two hosts on one port are two sites).
 */
interface StoredCookie {
  name: string;
  value: string;
  /** The host that set it (host-only) or the Domain attribute without its leading dot. */
  domain: string;
  hostOnly: boolean;
}

function loopbackLookup(
  _host: string,
  opts: LookupOptions,
  cb: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
): void {
  if (opts.all) cb(null, [{ address: '127.0.0.1', family: 4 }]);
  else cb(null, '127.0.0.1', 4);
}

export class HostBrowser {
  readonly cookies: StoredCookie[] = [];
  private readonly agent = new Agent({ connect: { lookup: loopbackLookup } });

  /** The cookies a request to `url`'s host carries. */
  cookiesFor(url: string): StoredCookie[] {
    const host = new URL(url).hostname;
    return this.cookies.filter((c) =>
      c.hostOnly ? c.domain === host : host === c.domain || host.endsWith(`.${c.domain}`),
    );
  }

  cookie(url: string, name: string): string | undefined {
    return this.cookiesFor(url).find((c) => c.name === name)?.value;
  }

  /** The raw Set-Cookie lines of the last reply, for assertions on attributes. */
  lastSetCookies: string[] = [];

  async request(
    url: string,
    opts: { kind?: Kind; method?: string; headers?: Record<string, string> } = {},
  ): Promise<Reply> {
    const u = new URL(url);
    const headers: Record<string, string> =
      (opts.kind ?? 'navigate') === 'navigate'
        ? { accept: 'text/html', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' }
        : { accept: 'application/json', 'sec-fetch-mode': 'cors', 'sec-fetch-dest': 'empty' };
    const jar = this.cookiesFor(url);
    if (jar.length) headers.cookie = jar.map((c) => `${c.name}=${c.value}`).join('; ');
    Object.assign(headers, opts.headers ?? {});
    const res = await request(url, {
      method: (opts.method ?? 'GET') as 'GET',
      headers,
      dispatcher: this.agent,
    });
    const body = await res.body.text();
    const set = res.headers['set-cookie'];
    this.lastSetCookies = Array.isArray(set) ? set : set ? [set] : [];
    for (const line of this.lastSetCookies) this.store(u.hostname, line);
    const loc = res.headers.location;
    return {
      status: res.statusCode,
      headers: res.headers,
      body,
      location: Array.isArray(loc) ? loc[0] : loc,
      json: <T>() => JSON.parse(body) as T,
    };
  }

  private store(host: string, line: string): void {
    const [pair, ...attrs] = line.split(';');
    const eq = pair!.indexOf('=');
    const name = pair!.slice(0, eq).trim();
    const value = pair!.slice(eq + 1).trim();
    const domainAttr = attrs.map((a) => a.trim()).find((a) => /^domain=/i.test(a));
    let domain = host;
    let hostOnly = true;
    if (domainAttr) {
      const d = domainAttr.slice(7).replace(/^\./, '').toLowerCase();
      // A browser ignores a Set-Cookie whose Domain the setting host is not under.
      if (host !== d && !host.endsWith(`.${d}`)) return;
      domain = d;
      hostOnly = false;
    }
    const at = this.cookies.findIndex(
      (c) => c.name === name && c.domain === domain && c.hostOnly === hostOnly,
    );
    if (at !== -1) this.cookies.splice(at, 1);
    const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a));
    if (!expired && value !== '') this.cookies.push({ name, value, domain, hostOnly });
  }

  /** Follows redirects up to `max` hops; returns every hop. */
  async follow(
    url: string,
    opts: { kind?: Kind; max?: number } = {},
  ): Promise<Array<Reply & { url: string }>> {
    const hops: Array<Reply & { url: string }> = [];
    let next: string | undefined = url;
    for (let i = 0; next && i < (opts.max ?? 12); i++) {
      const r = await this.request(next, { kind: opts.kind ?? 'navigate' });
      hops.push({ ...r, url: next });
      next = r.status >= 300 && r.status < 400 && r.location ? new URL(r.location, next).href : undefined;
    }
    return hops;
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}
