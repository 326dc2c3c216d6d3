// Prints every failed test of a TAP log (node:test's reporter when stdout is not a terminal) with
// its error and stack, so the end of a CI log says why a run failed even when its middle is cut.
import { readFileSync } from 'node:fs';

const lines = readFileSync(process.argv[2], 'utf8').split('\n');
const out = [];
for (let i = 0; i < lines.length; i++) {
  const m = /^(\s*)not ok \d+ - (.*)$/.exec(lines[i]);
  if (!m) continue;
  const block = [];
  let j = i + 1;
  if (/^\s*---\s*$/.test(lines[j] ?? '')) {
    for (j++; j < lines.length && !/^\s*\.\.\.\s*$/.test(lines[j]); j++) block.push(lines[j].trim());
  }
  if (block.some((l) => l.includes("failureType: 'cancelledByParent'") || l.includes("failureType: 'subtestsFailed'")))
    continue;
  out.push(`✖ ${m[2]}`, ...block.slice(0, 40).map((l) => `    ${l}`), '');
}
// Diagnostics such as "generated asynchronous activity after the test ended" are top-level comments.
for (const l of lines) if (/^# (Error|Warning):/.test(l)) out.push(l);
console.log(out.length ? out.join('\n') : '(no failed test found in the TAP log: see the lines above)');
