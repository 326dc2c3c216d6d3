import * as client from 'openid-client';
import { describeCause } from '../util/errors.js';
import type { ProviderFetch } from './providerFetch.js';

/** What Gatehouse asks to be registered as (RFC 7591 §2 client metadata). */
export interface RegistrationRequest {
  issuer: string;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  backchannelLogoutUri: string;
  frontchannelLogoutUri: string;
  clientName: string;
  initialAccessToken?: string | undefined;
  timeoutSeconds: number;
  /** The provider's transport (providerFetch.ts: `provider.caFile`); default the global fetch. */
  fetch?: ProviderFetch | undefined;
}

/** The client the provider registered. */
export interface RegisteredClient {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
}

/**
 * Why a registration failed: `refused` (the provider answered 4xx: a bad initial access token,
 * metadata it does not accept — retrying cannot help, so the gateway exits 78 with the
 * provider's own error text) or `transient` (network, timeout, 5xx: retried like discovery).
 */
export class RegistrationError extends Error {
  constructor(
    readonly kind: 'refused' | 'transient',
    message: string,
  ) {
    super(message);
    this.name = 'RegistrationError';
  }
}

/** The provider's words for a refusal: `error: error_description`, from the body or a WWW-Authenticate challenge. */
function providerText(err: unknown): string | undefined {
  if (err instanceof client.ResponseBodyError) {
    return err.error_description ? `${err.error}: ${err.error_description}` : err.error;
  }
  if (err instanceof client.WWWAuthenticateChallengeError) {
    const p = err.cause[0]?.parameters;
    if (p?.error) return p.error_description ? `${p.error}: ${p.error_description}` : p.error;
    return `HTTP ${err.status} (${err.cause[0]?.scheme ?? 'no'} challenge)`;
  }
  return undefined;
}

function statusOf(err: unknown): number | undefined {
  const s = (err as { status?: unknown; cause?: { status?: unknown } })?.status;
  return typeof s === 'number' ? s : undefined;
}

/**
 * Dynamic Client Registration (RFC 7591) with openid-client: discovery, then a POST of our
 * metadata to the discovered `registration_endpoint`, with the initial access token as a Bearer
 * token when one is configured.
 */
export async function registerClient(r: RegistrationRequest): Promise<RegisteredClient> {
  const issuer = new URL(r.issuer);
  const metadata: Partial<client.ClientMetadata> = {
    client_name: r.clientName,
    redirect_uris: r.redirectUris,
    post_logout_redirect_uris: r.postLogoutRedirectUris,
    backchannel_logout_uri: r.backchannelLogoutUri,
    backchannel_logout_session_required: true,
    frontchannel_logout_uri: r.frontchannelLogoutUri,
    frontchannel_logout_session_required: true,
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    application_type: 'web',
  };
  let conf: client.Configuration;
  try {
    conf = await client.dynamicClientRegistration(issuer, metadata, undefined, {
      ...(issuer.protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : {}),
      ...(r.initialAccessToken ? { initialAccessToken: r.initialAccessToken } : {}),
      timeout: r.timeoutSeconds,
      ...(r.fetch ? { [client.customFetch]: r.fetch } : {}),
    });
  } catch (err) {
    const status = statusOf(err);
    const text = providerText(err);
    if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429) {
      throw new RegistrationError(
        'refused',
        `the provider refused the registration (HTTP ${status}): ${text ?? describeCause(err)}`,
      );
    }
    const msg = err instanceof Error ? err.message : String(err);
    if (/registration_endpoint/.test(msg)) {
      throw new RegistrationError(
        'refused',
        `the provider's discovery has no registration_endpoint: it does not offer Dynamic Client Registration`,
      );
    }
    throw new RegistrationError('transient', `client registration failed: ${text ?? describeCause(err)}`);
  }
  const m = conf.clientMetadata();
  if (typeof m.client_secret !== 'string' || m.client_secret === '') {
    throw new RegistrationError('refused', 'the provider registered the client without a client_secret');
  }
  return {
    clientId: m.client_id,
    clientSecret: m.client_secret,
    redirectUris: Array.isArray(m.redirect_uris) ? (m.redirect_uris as string[]) : r.redirectUris,
  };
}
