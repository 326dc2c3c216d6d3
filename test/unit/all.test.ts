/**
 * The unit suite's single entry point. Every `*.unit.ts` file in this directory is loaded into one
 * process: the tests are pure and fast, and starting a tsx process per file would cost more than
 * all of them together (~1 s each on a busy CI machine).
 *
 * Run everything:   node --import tsx --test test/unit/all.test.ts
 * Run one file:     node --import tsx --test test/unit/coordinator.unit.ts
 *
 * Module files must register per-test hooks (beforeEach/afterEach) inside a describe, never at
 * the top level, since the root context is shared by every file loaded here.
 */
import { readdirSync } from 'node:fs';

const dir = new URL('./', import.meta.url);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.unit.ts'))
  .sort();
if (files.length === 0) throw new Error(`no *.unit.ts files found in ${dir.pathname}`);
for (const f of files) await import(new URL(f, dir).href);
