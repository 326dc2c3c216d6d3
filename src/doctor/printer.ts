import type { CheckResult } from './check.js';

export interface DoctorSummary {
  pass: number;
  warn: number;
  fail: number;
}

export function summarize(checks: readonly CheckResult[]): DoctorSummary {
  return {
    pass: checks.filter((c) => c.status === 'PASS').length,
    warn: checks.filter((c) => c.status === 'WARN').length,
    fail: checks.filter((c) => c.status === 'FAIL').length,
  };
}

/** One line: `PASS|WARN|FAIL <check>: <finding> — fix: <how>` (no fix on PASS). */
export function checkLine(c: CheckResult): string {
  const fix = c.status !== 'PASS' && c.fix ? ` — fix: ${c.fix}` : '';
  return `${c.status} ${c.check}: ${c.finding}${fix}`;
}

/** The text report: one line per check, then the counts. */
export function textReport(checks: readonly CheckResult[]): string {
  const s = summarize(checks);
  return `${checks.map(checkLine).join('\n')}\n\n${s.pass} passed, ${s.warn} warnings, ${s.fail} failed\n`;
}

/** The `--json` report: one document, `{checks: [{status, check, finding, fix}], summary}`. */
export function jsonReport(checks: readonly CheckResult[]): string {
  const doc = {
    checks: checks.map((c) => ({
      status: c.status,
      check: c.check,
      finding: c.finding,
      fix: c.status === 'PASS' ? null : (c.fix ?? null),
    })),
    summary: summarize(checks),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
