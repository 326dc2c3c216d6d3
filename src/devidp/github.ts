// GitHub's REST identity endpoints (github profile). GitHub is OAuth 2.0 only, so a gateway
// learns who logged in from these instead of an ID token.
import { createHash } from 'node:crypto';
import type { Handler } from './context.js';
import { sendJson } from './http.js';
import type { DevUser } from './types.js';
import { authenticateBearer } from './userinfo.js';

/** GitHub ids are numbers; derive a stable one from the sub. */
export function githubId(user: DevUser): number {
  return createHash('sha256').update(user.sub).digest().readUInt32BE(0) % 100_000_000;
}

export const handleGithubUser: Handler = async (ctx, req, res) => {
  const auth = authenticateBearer(ctx, req, res);
  if (auth === undefined) return;
  const u = auth.user;
  sendJson(res, 200, { login: u.username, id: githubId(u), type: 'User', name: u.name, email: u.email });
};

export const handleGithubEmails: Handler = async (ctx, req, res) => {
  const auth = authenticateBearer(ctx, req, res);
  if (auth === undefined) return;
  const u = auth.user;
  // GitHub lists the noreply address too; a gateway must pick the primary verified one.
  sendJson(res, 200, [
    {
      email: `${githubId(u)}+${u.username}@users.noreply.github.com`,
      primary: false,
      verified: true,
      visibility: null,
    },
    { email: u.email, primary: true, verified: u.email_verified ?? true, visibility: 'private' },
  ]);
};
