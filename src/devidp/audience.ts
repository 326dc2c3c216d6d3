// Which API an access token is for. RFC 8707 `resource` (an absolute URI) or Auth0's
// `audience` (any string) names it; else the client's default audience; else --audience.
// A token always has an `aud`, so a gateway that requires one can be tested honestly.
import type { RegisteredClient } from './clients.js';
import type { IdpContext } from './context.js';

export type AudienceResult =
  | { ok: true; audience: string | undefined }
  | { ok: false; error: string; description: string };

/** The audience a request names, if any; an error for a malformed `resource` (RFC 8707 §2). */
export function requestedAudience(params: Record<string, string | undefined>): AudienceResult {
  const { resource, audience } = params;
  if (resource !== undefined) {
    let ok = false;
    try {
      ok = new URL(resource).protocol !== '' && !resource.includes('#');
    } catch {
      ok = false;
    }
    if (!ok)
      return {
        ok: false,
        error: 'invalid_target',
        description: 'resource must be an absolute URI without a fragment (RFC 8707)',
      };
  }
  if (audience !== undefined && audience === '')
    return { ok: false, error: 'invalid_request', description: 'audience must not be empty' };
  if (resource !== undefined && audience !== undefined && resource !== audience)
    return {
      ok: false,
      error: 'invalid_target',
      description: 'resource and audience name different APIs; send one',
    };
  return { ok: true, audience: resource ?? audience };
}

/** The `aud` of a token: what the request named, else the client's default, else --audience. */
export function tokenAudience(
  ctx: IdpContext,
  client: RegisteredClient | undefined,
  requested: string | undefined,
): string {
  return requested ?? client?.audience ?? ctx.options.audience;
}
