// Listeners for the tokens the token endpoint hands out, so a test can search for the values a
// relying party really received (opaque refresh tokens cannot be recognised by their shape).
// Nothing is kept: a listener sees each response once, and removing it frees it.
import type { IssuedTokens } from './types.js';

type Listener = (issued: IssuedTokens) => void;

export class TokenWatch {
  readonly #listeners = new Set<Listener>();

  add(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /** `body` is a successful token response as sent. Listeners are test code: one that throws makes it a 500. */
  emit(body: Record<string, unknown>): void {
    if (this.#listeners.size === 0) return;
    const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
    const issued: IssuedTokens = {
      accessToken: String(body.access_token),
      ...(text(body.refresh_token) === undefined ? {} : { refreshToken: text(body.refresh_token) }),
      ...(text(body.id_token) === undefined ? {} : { idToken: text(body.id_token) }),
    };
    for (const listener of this.#listeners) listener(issued);
  }
}
