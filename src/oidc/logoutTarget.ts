/** What a preset may use to name a logout target of its own (presets/cognito.ts). */
export interface LogoutTargetContext {
  clientId: string;
  /** Discovery's authorization_endpoint. */
  authorizationEndpoint: string | undefined;
  postLogoutRedirectUri: string;
}

/**
 * `provider.logoutUrl`: a URL where {client_id}, {post_logout_redirect_uri} and {id_token_hint}
 * are replaced, URL-encoded. It wins over the provider's end_session_endpoint and the preset's
 * own target, for a provider without one (or to override it).
 */
export function logoutUrlFromTemplate(
  template: string,
  p: { clientId: string; postLogoutRedirectUri: string; idTokenHint: string | undefined },
): string {
  const values: Record<string, string> = {
    client_id: p.clientId,
    post_logout_redirect_uri: p.postLogoutRedirectUri,
    id_token_hint: p.idTokenHint ?? '',
  };
  return template.replace(/\{(client_id|post_logout_redirect_uri|id_token_hint)\}/g, (_, k: string) =>
    encodeURIComponent(values[k]!),
  );
}
