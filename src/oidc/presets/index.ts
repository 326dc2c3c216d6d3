import { auth0 } from './auth0.js';
import { cognito } from './cognito.js';
import { entra } from './entra.js';
import { generic } from './generic.js';
import { github } from './github.js';
import { gitlab } from './gitlab.js';
import { google } from './google.js';
import { keycloak } from './keycloak.js';
import { okta } from './okta.js';
import type { ProviderPreset } from './preset.js';

/**
 * The provider presets `provider.preset` may name, in the order `auto` asks them (the order
 * traefikoidc documents), generic last: it is what `auto` falls back to. Adding one: a file of
 * its own in this folder and one entry here (docs/architecture.md, "How to add a provider preset").
 */
const PRESETS = [
  google,
  // Microsoft's hosts are never another provider's.
  entra,
  auth0,
  okta,
  keycloak,
  cognito,
  gitlab,
  github,
  generic,
] as const;

export type PresetName = (typeof PRESETS)[number]['name'];

/** `provider.preset` values: the registered names; `auto` is the schema's own. */
export const PRESET_NAMES = PRESETS.map((p) => p.name) as [PresetName, ...PresetName[]];

const BY_NAME: ReadonlyMap<string, ProviderPreset> = new Map(PRESETS.map((p) => [p.name, p]));

/** The preset of that name; the config schema only lets registered names through. */
export function presetNamed(name: PresetName): ProviderPreset {
  const preset = BY_NAME.get(name);
  if (!preset) throw new Error(`no provider preset "${name}" (presets: ${PRESET_NAMES.join(', ')})`);
  return preset;
}

/** The preset of a loaded configuration (config loading resolved `auto` to a name). */
export function presetFor(provider: { preset: PresetName }): ProviderPreset {
  return presetNamed(provider.preset);
}

/** A preset chosen for a configuration, and why (logged at start). */
export interface PresetChoice {
  preset: ProviderPreset;
  /** "provider.preset", or "auto: issuer path /realms/<realm>", or "auto: no preset knows …". */
  because: string;
}

/**
 * `provider.preset` as written → the preset in force: a name wins; `auto` asks each preset in
 * registry order whether the issuer is its provider's, and falls back to generic.
 */
export function resolvePreset(value: PresetName | 'auto', issuer: string): PresetChoice {
  if (value !== 'auto') return { preset: presetNamed(value), because: 'provider.preset' };
  let url: URL | undefined;
  try {
    url = new URL(issuer);
  } catch {
    url = undefined;
  }
  const found = url && PRESETS.find((p) => p !== generic && p.matchesIssuer(url));
  if (found && url) {
    return { preset: found, because: `auto: ${found.issuerPattern ?? `issuer ${url.host}${url.pathname}`}` };
  }
  return {
    preset: generic,
    because: `auto: no preset recognises the issuer ${url ? url.host : issuer}; set provider.preset to name one`,
  };
}
