import { type CheckResult, fail, pass, warn } from './check.js';

/** Beyond this a clock is drifting (NTP keeps clocks within milliseconds): worth a look before it reaches the tolerance. */
export const CLOCK_SKEW_WARN_SECONDS = 5;

/** What one response tells about the provider's clock. */
export interface ClockReading {
  /** The `Date` response header (one-second resolution, RFC 9110 §6.6.1). */
  date: string;
  /** Local time (ms) the request was sent and its response head arrived. */
  sentAt: number;
  receivedAt: number;
}

/**
 * The provider's clock minus ours, in ms, and how sure we are. The `Date` header is truncated to
 * the second, so the provider's time lies in [Date, Date + 1 s); it was taken somewhere in the
 * round trip. The estimate is the middle of both ranges; `uncertaintyMs` half their widths.
 */
export function estimateSkew(r: ClockReading): { skewMs: number; uncertaintyMs: number } | undefined {
  const provider = Date.parse(r.date);
  if (!Number.isFinite(provider)) return undefined;
  const midpoint = (r.sentAt + r.receivedAt) / 2;
  return { skewMs: provider + 500 - midpoint, uncertaintyMs: 500 + (r.receivedAt - r.sentAt) / 2 };
}

/**
 * FAIL beyond `provider.clockToleranceSeconds`: a fresh ID token then looks issued in the future
 * or already expired, and sign-in fails. WARN beyond 5 s. Judged on the smallest skew the reading
 * allows, so the header's one-second resolution never raises a false alarm.
 */
export function judgeClockSkew(
  reading: ClockReading | undefined,
  toleranceSeconds: number,
  check = 'provider.clock',
): CheckResult {
  const est = reading && estimateSkew(reading);
  if (!est) {
    return warn(
      check,
      'the provider sent no usable Date header, so its clock could not be compared with ours',
      'make sure both clocks follow NTP',
    );
  }
  const atLeast = Math.max(0, Math.abs(est.skewMs) - est.uncertaintyMs) / 1000;
  const side = est.skewMs > 0 ? 'ahead of' : 'behind';
  const about = `the provider's clock is about ${(Math.abs(est.skewMs) / 1000).toFixed(1)} s ${side} ours (±${(est.uncertaintyMs / 1000).toFixed(1)} s)`;
  if (atLeast > toleranceSeconds) {
    return fail(
      check,
      `${about}: more than provider.clockToleranceSeconds (${toleranceSeconds} s), so ID tokens look issued in the future or expired and sign-in fails`,
      'synchronise this host’s clock (NTP: timedatectl set-ntp true, chrony); raising provider.clockToleranceSeconds only hides it',
    );
  }
  if (atLeast > CLOCK_SKEW_WARN_SECONDS) {
    return warn(
      check,
      `${about}: within provider.clockToleranceSeconds (${toleranceSeconds} s), but clocks under NTP agree within milliseconds`,
      'synchronise this host’s clock (NTP)',
    );
  }
  return pass(check, about);
}
