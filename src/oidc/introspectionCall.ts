import * as client from 'openid-client';
import type { ProviderSettings } from './settings.js';

/** One copy per connection (a rediscovery makes a new connection, and so a new copy). */
const overridden = new WeakMap<client.Configuration, client.Configuration>();

/**
 * The openid-client configuration to introspect with: the connection's own (its client
 * authentication, timeout and transport rules), or, when `bearer.introspection.endpoint` names
 * another endpoint, a copy of it that points there.
 */
export function introspectionConfiguration(
  conf: client.Configuration,
  settings: ProviderSettings,
  endpoint: string | undefined,
): client.Configuration {
  if (!endpoint) return conf;
  const cached = overridden.get(conf);
  if (cached) return cached;
  const { supportsPKCE: _, ...server } = conf.serverMetadata();
  const meta: client.ServerMetadata = { ...server, introspection_endpoint: endpoint };
  const c = new client.Configuration(
    meta,
    settings.clientId,
    { client_secret: settings.clientSecret },
    client.ClientSecretBasic(settings.clientSecret),
  );
  if (new URL(endpoint).protocol === 'http:' || new URL(settings.issuer).protocol === 'http:') {
    client.allowInsecureRequests(c);
  }
  c.timeout = settings.timeoutSeconds;
  // The same transport as the connection's (its internal CA, providerFetch.ts).
  const transport = conf[client.customFetch];
  if (transport) c[client.customFetch] = transport;
  overridden.set(conf, c);
  return c;
}

/** One RFC 7662 call; the answer as the provider gave it (openid-client checks it is a JSON object with `active`). */
export async function introspect(
  conf: client.Configuration,
  token: string,
): Promise<Record<string, unknown>> {
  if (!conf.serverMetadata().introspection_endpoint) {
    throw new Error('the provider lists no introspection_endpoint: set bearer.introspection.endpoint');
  }
  const answer = await client.tokenIntrospection(conf, token, { token_type_hint: 'access_token' });
  return answer as unknown as Record<string, unknown>;
}
