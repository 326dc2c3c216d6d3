import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { Agent, fetch as undiciFetch } from 'undici';
import { describeCause } from '../util/errors.js';
import type { Tracing } from '../util/tracing.js';

/**
 * How Gatehouse speaks HTTP to the provider: a WHATWG `fetch`. It is also the shape of
 * openid-client's `customFetch` and jose's `[customFetch]`, so one function serves every call.
 */
export type ProviderFetch = (url: string | URL, init?: RequestInit) => Promise<Response>;

/** The settings that shape the provider's transport (the `provider` section). */
export interface ProviderTransportSettings {
  /** PEM bundle(s) of an internal CA, trusted in addition to Node's roots. */
  caFile?: string | string[] | undefined;
}

/** A `provider.caFile` that cannot be used: unreadable, no certificate in it, or one that does not parse. */
export class CaBundleError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'CaBundleError';
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function caFiles(caFile: ProviderTransportSettings['caFile']): string[] {
  if (caFile === undefined) return [];
  return Array.isArray(caFile) ? caFile : [caFile];
}

/**
 * The certificates of `provider.caFile`, each checked to parse as X.509. Throws a CaBundleError
 * with one line per bad file, each naming the key and the fix (the loader turns it into exit 78).
 */
export function readCaBundle(caFile: ProviderTransportSettings['caFile']): string[] {
  const certs: string[] = [];
  const problems: string[] = [];
  for (const file of caFiles(caFile)) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      problems.push(
        `provider.caFile: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? describeCause(err)}) — give the path of a readable PEM file with the CA certificate(s) that signed the provider's TLS certificate`,
      );
      continue;
    }
    const found = text.match(PEM_CERTIFICATE) ?? [];
    if (found.length === 0) {
      problems.push(
        `provider.caFile: ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----) — give the CA certificate(s) in PEM, not a key or DER`,
      );
      continue;
    }
    for (const [i, pem] of found.entries()) {
      try {
        new X509Certificate(pem);
        certs.push(pem);
      } catch (err) {
        problems.push(
          `provider.caFile: certificate ${i + 1} of ${file} does not parse (${describeCause(err)}) — replace it with the CA certificate in PEM`,
        );
      }
    }
  }
  if (problems.length) throw new CaBundleError(problems);
  return certs;
}

/** The configuration problems of `provider.caFile` (empty: fine); for the config loader. */
export function caBundleProblems(caFile: ProviderTransportSettings['caFile']): string[] {
  try {
    readCaBundle(caFile);
    return [];
  } catch (err) {
    if (err instanceof CaBundleError) return err.problems;
    throw err;
  }
}

/** OpenSSL's verdicts on a certificate chain that does not lead to a trusted root. */
const UNTRUSTED_CHAIN = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
]);

/**
 * For a failed call to the provider: the fix when its TLS certificate is signed by a CA we do
 * not trust (` — ...`), else ''. Searches the cause chain (fetch wraps the TLS error).
 */
export function untrustedCertificateHint(err: unknown): string {
  for (let e = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && UNTRUSTED_CHAIN.has(code)) {
      return " — the provider's TLS certificate is not signed by a trusted CA: if it comes from an internal CA, set provider.caFile to that CA's PEM bundle";
    }
  }
  return '';
}

/** NODE_EXTRA_CA_CERTS is ignored by Node once a `ca` is given, so it is added back here. */
function nodeExtraCaCerts(): string[] {
  const file = process.env.NODE_EXTRA_CA_CERTS;
  if (!file) return [];
  try {
    return readFileSync(file, 'utf8').match(PEM_CERTIFICATE) ?? [];
  } catch {
    return []; // Node itself warns at start when it cannot read it.
  }
}

/**
 * The one place that builds the transport of every call Gatehouse makes to the provider:
 * discovery, JWKS, token, userinfo, introspection, revocation, registration, the GitHub API,
 * distributed claims, extra bearer issuers, and the Microsoft Graph client. Use it for any new
 * call towards the IdP; never the global `fetch`.
 *
 * Without `provider.caFile` it is the global `fetch` (Node's default roots, NODE_EXTRA_CA_CERTS).
 * With it, an undici Agent whose TLS trust is Node's bundled roots + NODE_EXTRA_CA_CERTS + the
 * bundle — the bundle is trusted *in addition*, as NODE_EXTRA_CA_CERTS would be, but for the
 * provider's calls only (the upstream hop is not affected). Callers keep passing their own
 * `signal` (timeouts) and run it under the provider's semaphore. Throws a CaBundleError when the
 * bundle cannot be used (the config loader reports that first, as exit 78).
 */
export function createProviderFetch(settings: ProviderTransportSettings): ProviderFetch {
  const bundle = readCaBundle(settings.caFile);
  if (bundle.length === 0) return (url, init) => fetch(url, init);
  // One Agent per gateway: its idle keep-alive sockets are unref'd, so it never holds the process.
  const dispatcher = new Agent({ connect: { ca: [...rootCertificates, ...nodeExtraCaCerts(), ...bundle] } });
  return (url, init) =>
    // undici's fetch with our dispatcher; its Response is a WHATWG Response (openid-client and
    // jose check it by its toStringTag), the types differ only nominally.
    undiciFetch(url, { ...(init as object), dispatcher }) as unknown as Promise<Response>;
}

/**
 * The transport with a client span (`gatehouse.idp`) around every call to the provider: token,
 * userinfo, introspection, revocation, discovery, JWKS... Its attributes name the method, the
 * host and the path — never the query, a header or a body (credentials travel there). Off, it
 * is `fetch` itself.
 */
export function tracedProviderFetch(fetch: ProviderFetch, tracing: Tracing): ProviderFetch {
  if (!tracing.enabled) return fetch;
  return (url, init) => {
    const u = new URL(String(url));
    return tracing.span(
      'gatehouse.idp',
      'client',
      {
        'http.request.method': init?.method ?? 'GET',
        'server.address': u.hostname,
        'server.port': Number(u.port) || (u.protocol === 'https:' ? 443 : 80),
        'url.path': u.pathname,
      },
      async (span) => {
        const response = await fetch(url, init);
        span.setAttributes({ 'http.response.status_code': response.status });
        if (response.status >= 500) span.fail(`the provider answered ${response.status}`);
        return response;
      },
    );
  };
}
