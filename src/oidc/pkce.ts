import * as client from 'openid-client';

/**
 * A fresh PKCE code verifier (RFC 7636) for one login flow; the engine keeps it with the flow and
 * hands it back at the callback. Here so that the engine needs no protocol library of its own.
 */
export function randomCodeVerifier(): string {
  return client.randomPKCECodeVerifier();
}
