import type { Identity } from '../identity/identity.js';
import type { Route } from '../routes/route.js';
import type { ErrorCode } from '../util/errors.js';

/** What a front door must do with a request. Front doors only translate this into their own response shape. */
export type Decision =
  | {
      type: 'allow';
      identity: Identity | undefined;
      /** Identity headers for the upstream (empty for skip-auth paths). */
      upstreamHeaders: Record<string, string>;
      setCookies: string[];
      /** What allowed it, for binding upgraded sockets: the session's store key, or `bearer:<token hash>` (none on skip-auth paths). */
      sessionKey?: string;
      /** The route the request is for: its upstream, WebSocket setting and id. */
      route: Route;
    }
  | {
      type: 'redirect';
      location: string;
      setCookies: string[];
      /** 302 unless said otherwise; 303 after a POST, so the browser follows with a GET. */
      status?: 302 | 303;
    }
  | {
      type: 'error';
      status: number;
      code: ErrorCode;
      /** Safe to show to the user. */
      reason: string;
      setCookies: string[];
      /** Where "sign in again" should point (for navigations that may not auto-redirect). */
      signInUrl?: string;
      retryAfterSec?: number;
      /** Adds `WWW-Authenticate` (401 answers). */
      challenge?: boolean;
      /**
       * The path also accepts bearer tokens: the 401's challenges name `Bearer realm="gatehouse"`
       * too, with no error code (RFC 6750 §3: the request carried no token).
       */
      offersBearer?: boolean;
      /**
       * The answer to a bearer-token request (an API client): always JSON, never a page, with
       * `WWW-Authenticate: Bearer error=…` (RFC 6750 §3) when `error` is set.
       */
      bearer?: BearerChallenge;
    }
  | { type: 'json'; status: number; body: unknown; setCookies: string[] }
  | {
      type: 'page';
      status: number;
      title: string;
      message: string;
      link?: { href: string; text: string };
      /** A POST button (no fields): the confirmation a cross-site sign-out request gets. */
      form?: {
        action: string;
        button: string;
        /** Origins the submit's answer redirects to (CSP form-action covers redirects too). */
        redirectsTo?: string[];
      };
      /** Origins that may frame the page (CSP frame-ancestors); default none. Front-channel logout only. */
      frameAncestors?: string[];
      setCookies: string[];
    };

/** Any decision that is answered directly (everything but `allow`). */
export type Answer = Exclude<Decision, { type: 'allow' }>;
export type ErrorDecision = Extract<Decision, { type: 'error' }>;

/** RFC 6750 §3: what a `WWW-Authenticate: Bearer` challenge says. */
export interface BearerChallenge {
  error?: 'invalid_token' | 'insufficient_scope';
  /** Human-readable, never the token. */
  description?: string;
  /** The scopes that would be enough (insufficient_scope because of requiredScopes). */
  scope?: string;
}
