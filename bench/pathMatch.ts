/**
 * Micro-benchmark of path matching on a clean path: pathReadings + ruleCovers (three rules) and
 * refuseTarget, in process. Run: `node --import tsx bench/pathMatch.ts [iterations] [path]`.
 * Prints ns per operation (best of 5 runs); compare before and after a change to path handling.
 */

import { ruleCovers } from '../src/authz/pathPrefix.js';
import { pathReadings } from '../src/authz/pathReadings.js';
import { refuseTarget } from '../src/engine/requestTarget.js';

const iterations = Number(process.argv[2] ?? 2_000_000);
const path = process.argv[3] ?? '/api/v1/items/123';
const prefixes = ['/admin', '/api/private', '/ops/'];

function best(label: string, fn: () => number): void {
  let min = Number.POSITIVE_INFINITY;
  let sink = 0;
  for (let run = 0; run < 5; run++) {
    const t0 = process.hrtime.bigint();
    sink += fn();
    const ns = Number(process.hrtime.bigint() - t0) / iterations;
    if (ns < min) min = ns;
  }
  console.log(`${label.padEnd(32)} ${min.toFixed(1)} ns/op  (${path}; sink ${sink})`);
}

best('pathReadings + ruleCovers x3', () => {
  let hits = 0;
  for (let i = 0; i < iterations; i++) {
    const readings = pathReadings(path);
    for (const p of prefixes) if (ruleCovers(readings, p)) hits++;
  }
  return hits;
});

best('refuseTarget', () => {
  let hits = 0;
  for (let i = 0; i < iterations; i++) if (refuseTarget(path) !== undefined) hits++;
  return hits;
});
