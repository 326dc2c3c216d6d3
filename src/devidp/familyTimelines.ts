// What the live console draws per refresh-token family (GET /__admin/families): each access token
// issued (when, until when, by which grant), the refresh tokens rotated, reuse detected, and
// revocation. Fed by the token endpoint and by the token store's revocations. Bounded twice: the
// newest MAX_FAMILIES families, and the newest MAX_TOKENS tokens of each.
//
// Identifiers are fingerprints (requestLog.ts): the family id and the session id are bearer-ish
// (the sid is the IdP's SSO cookie), so neither is shown whole.
import { ExpiringMap } from './expiringMap.js';
import { fingerprint } from './requestLog.js';
import type { RevokeReason } from './tokens.js';

const MAX_FAMILIES = 50;
const MAX_TOKENS = 100;
/** A timeline nobody added to for an hour is history; it goes. */
const KEEP_MS = 60 * 60_000;

export interface IssuedSpan {
  /** Milliseconds since the epoch (the dev IdP's clock). */
  at: number;
  /** When the access token expires; undefined for a token without expiry (GitHub OAuth apps). */
  expiresAt: number | undefined;
  grantType: string;
  access: string;
  refresh: string | undefined;
  /** The refresh token presented for this one (refresh grant). */
  presented: string | undefined;
}

export interface FamilyTimeline {
  family: string;
  sub: string;
  clientId: string;
  session: string | undefined;
  started: number;
  tokens: IssuedSpan[];
  /** Refresh grants answered for this family. */
  refreshes: number;
  /** Refreshes that handed out a new refresh token (the presented one is then spent). */
  rotations: number;
  reuseDetections: number;
  revoked: { at: number; reason: RevokeReason } | undefined;
}

/** As GET /__admin/families answers it. */
export interface FamilyView extends FamilyTimeline {
  /** Whether the login session (SSO) behind the family is still there. */
  sessionLive: boolean;
}

interface Tracked {
  timeline: FamilyTimeline;
  /** Kept here only, to ask the session store; never shown. */
  sid: string | undefined;
}

export interface IssuedTokensInfo {
  familyId: string;
  sub: string;
  clientId: string;
  sid: string | undefined;
  grantType: string;
  accessToken: string;
  refreshToken: string | undefined;
  presented: string | undefined;
  at: number;
  expiresAt: number | undefined;
}

export class FamilyTimelines {
  readonly #families = new ExpiringMap<string, Tracked>(MAX_FAMILIES);

  issued(info: IssuedTokensInfo): void {
    const tracked = this.#families.get(info.familyId, info.at) ?? {
      sid: info.sid,
      timeline: {
        family: fingerprint(info.familyId),
        sub: info.sub,
        clientId: info.clientId,
        session: info.sid === undefined ? undefined : fingerprint(info.sid),
        started: info.at,
        tokens: [],
        refreshes: 0,
        rotations: 0,
        reuseDetections: 0,
        revoked: undefined,
      },
    };
    const t = tracked.timeline;
    const refresh = info.refreshToken === undefined ? undefined : fingerprint(info.refreshToken);
    const presented = info.presented === undefined ? undefined : fingerprint(info.presented);
    if (info.grantType === 'refresh_token') {
      t.refreshes++;
      if (refresh !== undefined && refresh !== presented) t.rotations++;
    }
    t.tokens.push({
      at: info.at,
      expiresAt: info.expiresAt,
      grantType: info.grantType,
      access: fingerprint(info.accessToken),
      refresh,
      presented,
    });
    if (t.tokens.length > MAX_TOKENS) t.tokens.shift();
    // set() moves the family to the young end: the most recently active families are kept.
    this.#families.set(info.familyId, tracked, info.at + KEEP_MS);
  }

  /** From the token store: a family was revoked (reuse of a spent refresh token, a replayed code, ...). */
  revoked(familyId: string, reason: RevokeReason, now: number): void {
    const t = this.#families.get(familyId, now)?.timeline;
    if (t === undefined) return;
    if (reason === 'reuse') t.reuseDetections++;
    t.revoked ??= { at: now, reason };
  }

  /** Newest first; `sessionLive` asks the session store about a sid. */
  list(now: number, sessionLive: (sid: string) => boolean): FamilyView[] {
    return [...this.#families.entries(now)]
      .map(([, { timeline, sid }]) => ({ ...timeline, sessionLive: sid !== undefined && sessionLive(sid) }))
      .reverse();
  }
}
