// RFC 8693 token exchange: a client (a service that received a user's token) trades it for a
// token for another API, optionally naming itself or another party as the actor (`act`).
// Subject and actor tokens must be tokens this IdP issued: an access token is looked up in the
// store (so an expired or revoked one is refused at once), an ID token or other JWT is checked
// against the IdP's own keys, issuer and expiry. The issued token is a fresh access token whose
// `sub` is the subject's, `aud` the requested audience, `client_id`/`azp` the exchanging client.
import { createLocalJWKSet, decodeProtectedHeader, errors, jwtVerify } from 'jose';
import { issueAccessToken } from './accessToken.js';
import { requestedAudience, tokenAudience } from './audience.js';
import { scopesAllowed } from './clients.js';
import type { IdpContext } from './context.js';
import type { GrantOutcome } from './grants.js';

export const TOKEN_TYPE = {
  accessToken: 'urn:ietf:params:oauth:token-type:access_token',
  idToken: 'urn:ietf:params:oauth:token-type:id_token',
  jwt: 'urn:ietf:params:oauth:token-type:jwt',
} as const;

/** The token types a subject or actor token may be; refresh tokens and SAML are not exchanged. */
const INPUT_TYPES: readonly string[] = [TOKEN_TYPE.accessToken, TOKEN_TYPE.idToken, TOKEN_TYPE.jwt];
/** What may be asked for: an access token, or the same RFC 9068 JWT labelled as a JWT. */
const OUTPUT_TYPES: readonly string[] = [TOKEN_TYPE.accessToken, TOKEN_TYPE.jwt];

const fail = (error: string, description: string, status = 400): GrantOutcome => ({
  ok: false,
  status,
  error,
  description,
});

/** Who a presented token speaks for. */
interface Party {
  sub: string;
  subject: 'user' | 'client';
  /** Scope of an access token; undefined for an ID token (it carries none). */
  scope: string | undefined;
  familyId: string | undefined;
  sid: string | undefined;
  /** The token's own `act` (an earlier exchange), kept as the prior actor (RFC 8693 §4.1). */
  act: unknown;
}

type PartyResult = { ok: true; party: Party } | { ok: false; description: string };

/** A live access token of this IdP, from its store (opaque or JWT alike). */
function fromAccessToken(ctx: IdpContext, token: string): PartyResult {
  const grant = ctx.tokens.lookupAccess(token, ctx.now());
  if (grant === undefined)
    return { ok: false, description: 'is not a live access token of this IdP (unknown, expired or revoked)' };
  if (grant.subject === 'user' && ctx.users.bySub(grant.sub) === undefined)
    return { ok: false, description: 'belongs to a user who no longer exists' };
  return {
    ok: true,
    party: {
      sub: grant.sub,
      subject: grant.subject,
      scope: grant.scope,
      familyId: grant.familyId,
      sid: grant.sid,
      act: grant.extraClaims?.act,
    },
  };
}

/** A JWT signed by this IdP: an access token goes through the store, anything else is verified. */
async function fromJwt(ctx: IdpContext, token: string, idTokenOnly: boolean): Promise<PartyResult> {
  let typ: unknown;
  try {
    typ = decodeProtectedHeader(token).typ;
  } catch {
    return { ok: false, description: 'is not a JWT' };
  }
  if (typeof typ === 'string' && typ.toLowerCase() === 'at+jwt') {
    if (idTokenOnly) return { ok: false, description: 'is an access token (typ at+jwt), not an ID token' };
    return fromAccessToken(ctx, token);
  }
  let payload: Awaited<ReturnType<typeof jwtVerify>>['payload'];
  try {
    ({ payload } = await jwtVerify(token, createLocalJWKSet(ctx.keys.ownJwks()), {
      issuer: ctx.issuer,
      currentDate: new Date(ctx.now()),
    }));
  } catch (err) {
    if (err instanceof errors.JWTExpired) return { ok: false, description: 'has expired' };
    return { ok: false, description: `failed verification (${(err as Error).message})` };
  }
  const sub = payload.sub;
  if (typeof sub !== 'string' || ctx.users.bySub(sub) === undefined)
    return { ok: false, description: 'names no user of this IdP' };
  const sid = typeof payload.sid === 'string' ? payload.sid : undefined;
  return {
    ok: true,
    party: { sub, subject: 'user', scope: undefined, familyId: undefined, sid, act: payload.act },
  };
}

async function readParty(ctx: IdpContext, token: string, type: string): Promise<PartyResult> {
  if (type === TOKEN_TYPE.accessToken) return fromAccessToken(ctx, token);
  return fromJwt(ctx, token, type === TOKEN_TYPE.idToken);
}

function unsupportedType(param: string, type: string): GrantOutcome {
  return fail(
    'unsupported_token_type',
    `${param} ${type} is not supported (supported: ${INPUT_TYPES.join(', ')})`,
  );
}

export async function tokenExchangeGrant(
  ctx: IdpContext,
  params: Record<string, string>,
  clientId: string,
): Promise<GrantOutcome> {
  const client = ctx.clients.find(clientId);
  if (client === undefined) return fail('invalid_client', 'unknown client', 401);
  // A public client proves nothing about itself; letting it mint tokens for other APIs would
  // turn any leaked user token into a key to every API.
  if (client.authMethod === 'none')
    return fail('unauthorized_client', 'token exchange needs a confidential client (not auth method none)');
  const { subject_token: subjectToken, subject_token_type: subjectType } = params;
  const { actor_token: actorToken, actor_token_type: actorType } = params;
  if (!subjectToken) return fail('invalid_request', 'subject_token is required');
  if (!subjectType) return fail('invalid_request', 'subject_token_type is required');
  // RFC 8693 §2.1: actor_token_type is required with actor_token and forbidden without it.
  if (actorToken !== undefined && !actorType)
    return fail('invalid_request', 'actor_token_type is required with actor_token');
  if (actorToken === undefined && actorType !== undefined)
    return fail('invalid_request', 'actor_token_type was sent without actor_token');
  if (!INPUT_TYPES.includes(subjectType)) return unsupportedType('subject_token_type', subjectType);
  if (actorType !== undefined && !INPUT_TYPES.includes(actorType))
    return unsupportedType('actor_token_type', actorType);
  const requestedType = params.requested_token_type ?? TOKEN_TYPE.accessToken;
  if (!OUTPUT_TYPES.includes(requestedType))
    return fail(
      'unsupported_token_type',
      `requested_token_type ${requestedType} is not supported (supported: ${OUTPUT_TYPES.join(', ')})`,
    );
  if (requestedType === TOKEN_TYPE.jwt && ctx.profiles.has('opaque-access-tokens'))
    return fail('unsupported_token_type', 'access tokens are opaque (opaque-access-tokens): no JWT to issue');
  const requested = requestedAudience(params);
  if (!requested.ok) return fail(requested.error, requested.description);

  // RFC 8693 §2.2.2: an invalid subject or actor token is invalid_request (not invalid_grant).
  const subject = await readParty(ctx, subjectToken, subjectType);
  if (!subject.ok) return fail('invalid_request', `subject_token ${subject.description}`);
  const actor = actorToken === undefined ? undefined : await readParty(ctx, actorToken, actorType ?? '');
  if (actor !== undefined && !actor.ok) return fail('invalid_request', `actor_token ${actor.description}`);

  // Down-scoping only: never more than the subject token had, nor than the client may have.
  const asked = params.scope?.split(' ').filter((s) => s !== '');
  const held = subject.party.scope?.split(' ').filter((s) => s !== '');
  if (asked !== undefined && held !== undefined && !asked.every((s) => held.includes(s))) {
    const extra = asked.filter((s) => !held.includes(s));
    return fail('invalid_scope', `the subject token does not hold: ${extra.join(' ')}`);
  }
  if (asked !== undefined && !scopesAllowed(asked, client.scopes)) {
    const extra = asked.filter((s) => !client.scopes?.includes(s));
    return fail('invalid_scope', `client ${clientId} may not request: ${extra.join(' ')}`);
  }
  const scope = (asked ?? held ?? []).join(' ');
  const party = subject.party;
  // The act claim: the current actor, with any prior actor chain nested inside (RFC 8693 §4.1).
  // Without an actor token the subject token's own act (if any) carries over unchanged.
  const act =
    actor === undefined
      ? party.act
      : { sub: actor.party.sub, ...(party.act === undefined ? {} : { act: party.act }) };
  const now = ctx.now();
  ctx.stats.grant('token_exchange');
  const access = await issueAccessToken(
    ctx,
    {
      // Tied to the subject's login: revoking it (or the user) kills the exchanged token too.
      familyId: party.familyId,
      sub: party.sub,
      clientId,
      scope,
      sid: party.sid,
      viaRefresh: false,
      audience: tokenAudience(ctx, client, requested.audience),
      subject: party.subject,
      extraClaims: { azp: clientId, ...(act === undefined ? {} : { act }) },
    },
    now,
  );
  return {
    ok: true,
    body: {
      access_token: access.token,
      issued_token_type: requestedType,
      token_type: 'Bearer',
      expires_in: access.expiresIn,
      ...(scope === '' ? {} : { scope }),
    },
  };
}
