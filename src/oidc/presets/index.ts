import { cognito } from './cognito.js';
import { entra } from './entra.js';
import { generic } from './generic.js';
import { github } from './github.js';
import { google } from './google.js';
import type { ProviderPreset } from './preset.js';

/**
 * The provider presets `provider.preset` may name, the default first. Adding one: a file of its
 * own in this folder and one entry here (docs/architecture.md, "How to add a provider preset").
 */
const PRESETS = [generic, google, cognito, github, entra] as const;

export type PresetName = (typeof PRESETS)[number]['name'];

/** For the config schema's enum: its error message lists them in this order. */
export const PRESET_NAMES = PRESETS.map((p) => p.name) as [PresetName, ...PresetName[]];

const BY_NAME: ReadonlyMap<string, ProviderPreset> = new Map(PRESETS.map((p) => [p.name, p]));

/** The preset of that name; the config schema only lets registered names through. */
export function presetNamed(name: PresetName): ProviderPreset {
  const preset = BY_NAME.get(name);
  if (!preset) throw new Error(`no provider preset "${name}" (presets: ${PRESET_NAMES.join(', ')})`);
  return preset;
}
