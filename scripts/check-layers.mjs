#!/usr/bin/env node
// The layering rule of src/, checked in CI (`npm run check:layers`).
//
// A module is a folder of src/ or a top-level file of src/. Modules sit in layers, lowest first;
// a module may import (`import type` and `export … from` included) only modules of a strictly
// lower layer, so there can be no cycle between modules and no import pointing up. Two further
// rules: the protocol libraries (openid-client, jose) are imported only in src/oidc/ (the dev IdP,
// a separate program, keeps its own signing with jose, and src/assertion/ signs the identity
// assertions Gatehouse itself issues: a provider's role, not a client's), and the dev IdP imports nothing from the
// gateway; the optional @opentelemetry/* packages are imported only in src/util/openTelemetry.ts
// (everything else makes spans through the seam, src/util/tracing.ts). Exit status 1 and one line per violation when the rule is broken.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Lowest first. Why this order: docs/architecture.md ("Layers"). */
export const LAYERS = [
  ['util', 'metrics'],
  ['identity'],
  ['authz'],
  ['oidc'],
  ['session'],
  ['refresh'],
  ['store'],
  ['assertion'],
  ['config'],
  ['routes'],
  ['engine'],
  ['core'],
  ['http'],
  ['gateway', 'cluster'],
  ['demo', 'doctor', 'migrate'],
  ['cli', 'index'],
];
/** Stands apart: imports nothing of the gateway, and nothing of the gateway's imports it but demo/cli/index. */
const DEV_IDP = 'devidp';
const PROTOCOL_LIBRARIES = ['openid-client', 'jose'];
const PROTOCOL_HOMES = ['oidc', 'assertion', DEV_IDP];
/** The optional OpenTelemetry packages are loaded in one file only, and only when tracing is on. */
const OPENTELEMETRY_HOME = 'src/util/openTelemetry.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');
const layerOf = new Map(LAYERS.flatMap((mods, i) => mods.map((m) => [m, i])));

function* sources(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* sources(p);
    else if (name.endsWith('.ts')) yield p;
  }
}

function moduleOf(file) {
  const parts = relative(root, file).split(sep);
  return parts.length > 1 ? parts[0] : parts[0].replace(/\.(ts|js)$/, '');
}

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"]([^'"]+)['"]/g;
const violations = [];
for (const file of sources(root)) {
  const from = moduleOf(file);
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|^\s*\/\/.*$/gm, '');
  for (const [, spec] of text.matchAll(SPECIFIER)) {
    const where = relative(join(root, '..'), file);
    if (!spec.startsWith('.')) {
      const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
      if (PROTOCOL_LIBRARIES.includes(pkg) && !PROTOCOL_HOMES.includes(from))
        violations.push(`${where}: imports ${pkg}; protocol code lives in src/oidc/`);
      if (pkg.startsWith('@opentelemetry/') && where.split(sep).join('/') !== OPENTELEMETRY_HOME)
        violations.push(`${where}: imports ${pkg}; spans go through src/util/tracing.ts (optional packages)`);
      continue;
    }
    const target = normalize(join(dirname(file), spec));
    if (!target.startsWith(root + sep)) continue;
    const to = moduleOf(target);
    if (to === from) continue;
    if (from === DEV_IDP) {
      violations.push(`${where}: the dev IdP imports ${to}; it must import nothing from the gateway`);
      continue;
    }
    if (to === DEV_IDP) {
      if (!['demo', 'cli', 'index'].includes(from)) violations.push(`${where}: ${from} imports the dev IdP`);
      continue;
    }
    const a = layerOf.get(from);
    const b = layerOf.get(to);
    if (a === undefined)
      violations.push(`${where}: module "${from}" has no layer in scripts/check-layers.mjs`);
    else if (b === undefined)
      violations.push(`${where}: module "${to}" has no layer in scripts/check-layers.mjs`);
    else if (b >= a)
      violations.push(
        `${where}: ${from} (layer ${a}) imports ${to} (layer ${b}) via '${spec}'; only lower layers may be imported`,
      );
  }
}

const unique = [...new Set(violations)];
if (unique.length > 0) {
  console.error(`layering: ${unique.length} violation(s)`);
  for (const v of unique) console.error(`  ${v}`);
  process.exit(1);
}
console.log(`layering: ok (${LAYERS.map((l) => l.join('+')).join(' < ')}; devidp apart)`);
