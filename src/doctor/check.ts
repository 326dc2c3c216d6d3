/**
 * One finding of `gatehouse doctor`. FAIL: login, refresh or logout cannot work as configured, or
 * an open security hole. WARN: works, but risky or unverified. PASS: checked and fine. A finding
 * and its fix never carry a secret or a token (they name keys, hosts and numbers only).
 */
export type CheckStatus = 'PASS' | 'WARN' | 'FAIL';

export interface CheckResult {
  status: CheckStatus;
  /** Short dotted name of what was checked, e.g. `provider.discovery`, `store.maxmemory-policy`. */
  check: string;
  finding: string;
  /** How to fix it; absent on PASS. */
  fix?: string | undefined;
}

export function pass(check: string, finding: string): CheckResult {
  return { status: 'PASS', check, finding };
}

export function warn(check: string, finding: string, fix: string): CheckResult {
  return { status: 'WARN', check, finding, fix };
}

export function fail(check: string, finding: string, fix: string): CheckResult {
  return { status: 'FAIL', check, finding, fix };
}

/** Why something failed, in one line, for a finding (an error's message; never its stack). */
export function reasonOf(err: unknown): string {
  const e = err as { message?: unknown; cause?: { code?: unknown; message?: unknown } } | undefined;
  const message = typeof e?.message === 'string' && e.message ? e.message : String(err);
  const cause = e?.cause;
  const causeText =
    typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : '';
  const line = message.split('\n')[0] ?? message;
  return causeText && !line.includes(causeText) ? `${line} (${causeText})` : line;
}
