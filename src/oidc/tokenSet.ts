/** The tokens, as the IdP issued them; the session layer keeps them only sealed (encrypted) inside a record. */
export interface TokenSet {
  accessToken: string;
  refreshToken?: string;
  idToken?: string;
}
