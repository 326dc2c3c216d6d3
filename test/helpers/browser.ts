import { type Dispatcher, request } from 'undici';

/**
 * A minimal cookie-keeping HTTP client that can look like a browser navigation (Node's fetch
 * always sends `Sec-Fetch-Mode: cors`, so it cannot) or like an API call.
 */
export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  location: string | undefined;
  json<T = Record<string, unknown>>(): T;
}

export type Kind = 'navigate' | 'api';

export class TestBrowser {
  /** cookie name → value, per origin (host:port). */
  readonly jar = new Map<string, Map<string, string>>();

  /** `dispatcher`: e.g. an undici Agent bound to another loopback address (`localAddress`). */
  constructor(private readonly dispatcher?: Dispatcher) {}

  cookies(origin: string): Map<string, string> {
    let m = this.jar.get(origin);
    if (!m) {
      m = new Map();
      this.jar.set(origin, m);
    }
    return m;
  }

  cookie(url: string, name: string): string | undefined {
    return this.cookies(new URL(url).host).get(name);
  }

  async request(
    url: string,
    opts: { kind?: Kind; method?: string; headers?: Record<string, string>; body?: string } = {},
  ): Promise<Reply> {
    const u = new URL(url);
    const jar = this.cookies(u.host);
    const headers: Record<string, string> = {};
    if ((opts.kind ?? 'navigate') === 'navigate') {
      headers.accept = 'text/html,application/xhtml+xml';
      headers['sec-fetch-mode'] = 'navigate';
      headers['sec-fetch-dest'] = 'document';
    } else {
      headers.accept = 'application/json';
      headers['sec-fetch-mode'] = 'cors';
      headers['sec-fetch-dest'] = 'empty';
    }
    if (jar.size) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    Object.assign(headers, opts.headers ?? {});
    const res = await request(url, {
      method: (opts.method ?? 'GET') as 'GET',
      headers,
      body: opts.body ?? null,
      ...(this.dispatcher ? { dispatcher: this.dispatcher } : {}),
    });
    const body = await res.body.text();
    const set = res.headers['set-cookie'];
    for (const c of Array.isArray(set) ? set : set ? [set] : []) {
      const [pair, ...attrs] = c.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a));
      if (expired || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    const loc = res.headers.location;
    return {
      status: res.statusCode,
      headers: res.headers,
      body,
      location: Array.isArray(loc) ? loc[0] : loc,
      json: <T>() => JSON.parse(body) as T,
    };
  }

  /**
   * Follows redirects (resolving relative Locations) up to `max` hops; returns every hop. `first`
   * sets the method and extra headers of the first request only (a form POST, or the
   * `Sec-Fetch-Site` a browser sends for a click on a page); every redirect is followed with a GET.
   */
  async follow(
    url: string,
    opts: {
      kind?: Kind;
      max?: number;
      rewrite?: (url: string) => string;
      first?: { method?: string; headers?: Record<string, string> };
    } = {},
  ): Promise<Reply[]> {
    const hops: Reply[] = [];
    let next: string | undefined = url;
    for (let i = 0; next && i < (opts.max ?? 10); i++) {
      const r = await this.request(next, { kind: opts.kind ?? 'navigate', ...(i === 0 ? opts.first : {}) });
      hops.push(r);
      next = r.status >= 300 && r.status < 400 && r.location ? new URL(r.location, next).href : undefined;
      if (next && opts.rewrite) next = opts.rewrite(next);
    }
    return hops;
  }
}
