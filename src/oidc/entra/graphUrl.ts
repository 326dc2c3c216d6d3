/**
 * Microsoft Graph of each Entra cloud, by its login host: a US Government or China tenant's
 * access token is for that cloud's Graph, and the global Graph would refuse it.
 */
const GRAPH_BY_LOGIN_HOST: ReadonlyMap<string, string> = new Map([
  ['login.microsoftonline.us', 'https://graph.microsoft.us'],
  ['login.chinacloudapi.cn', 'https://microsoftgraph.chinacloudapi.cn'],
]);

export const GLOBAL_GRAPH = 'https://graph.microsoft.com';

/** `provider.entra.graphUrl`, or the Graph of the issuer's cloud (global unless the issuer says otherwise). */
export function graphUrlFor(issuer: string, configured: string | undefined): string {
  return configured ?? GRAPH_BY_LOGIN_HOST.get(new URL(issuer).hostname.toLowerCase()) ?? GLOBAL_GRAPH;
}
