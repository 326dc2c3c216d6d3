import { z } from 'zod';

/**
 * An absolute http(s) URL, for configuration sections (publicUrl, upstream, the provider's
 * issuer and logout URL). Shared so that every section says the same thing about a bad URL.
 */
export const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL' });
