import type { GatehouseConfig } from '../config/schema.js';

/**
 * The `securityHeaders` a front door adds to the application's responses (names lower-case),
 * each only where the application set none: empty when the feature is off. HSTS only when
 * publicUrl is https (on plain http a browser ignores it, and it must never pin a dev host).
 */
export function securityHeadersFor(
  cfg: Pick<GatehouseConfig, 'securityHeaders' | 'publicUrl'>,
): Record<string, string> {
  const sh = cfg.securityHeaders;
  if (!sh.enabled) return {};
  const out: Record<string, string> = {};
  if (sh.hsts && cfg.publicUrl.startsWith('https:')) out['strict-transport-security'] = sh.hsts;
  if (sh.noSniff) out['x-content-type-options'] = 'nosniff';
  if (sh.frameOptions) out['x-frame-options'] = sh.frameOptions;
  return out;
}
