import type { GatehouseConfig } from '../config/schema.js';
import { type CheckResult, fail, pass, reasonOf, warn } from './check.js';

/** A running gateway answers its own health endpoints at once; anything slower is a finding. */
const TIMEOUT_MS = 5000;

async function get(url: string): Promise<{ status: number; body: string; ms: number }> {
  const started = Date.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS), redirect: 'manual' });
  const body = await res.text();
  return { status: res.status, body, ms: Date.now() - started };
}

/**
 * Where to reach `metrics.listen` from here: a wildcard address (0.0.0.0, ::) is reached at the
 * gateway's own host (from --url), a concrete one as written.
 */
export function metricsUrl(listen: string, gatewayUrl: URL): string {
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i);
  const port = listen.slice(i + 1);
  const wildcard = host === '0.0.0.0' || host === '[::]' || host === '::' || host === '';
  return `http://${wildcard ? gatewayUrl.hostname : host}:${port}/metrics`;
}

/** The running gateway (`--url`): `/readyz` (reverse proxy server) and the metrics listener. */
export async function gatewayChecks(cfg: GatehouseConfig, url: string): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  let base: URL;
  try {
    base = new URL(url);
  } catch {
    return [
      fail(
        'gateway.readyz',
        `--url ${url} is not a URL`,
        'pass the gateway’s address, e.g. --url http://127.0.0.1:4180',
      ),
    ];
  }
  const readyz = new URL('/readyz', base).href;
  try {
    const r = await get(readyz);
    if (r.status === 200) out.push(pass('gateway.readyz', `${readyz} answered 200 in ${r.ms} ms`));
    else {
      let reasons = r.body.slice(0, 300);
      try {
        const doc = JSON.parse(r.body) as { reasons?: unknown };
        if (Array.isArray(doc.reasons)) reasons = doc.reasons.join('; ');
      } catch {
        // not JSON: the start of the body is the finding
      }
      out.push(
        fail(
          'gateway.readyz',
          `${readyz} answered ${r.status}: ${reasons}`,
          'see the reasons (provider not discovered yet, store unreachable) and the gateway’s log',
        ),
      );
    }
  } catch (err) {
    out.push(
      fail(
        'gateway.readyz',
        `${readyz}: ${reasonOf(err)}`,
        'start the gateway, or pass the address it listens on (--url)',
      ),
    );
  }
  const listen = cfg.metrics.listen;
  if (listen === undefined) {
    out.push(
      warn(
        'gateway.metrics',
        'metrics.listen is unset: the gateway serves no metrics',
        'set metrics.listen (e.g. 0.0.0.0:9464) and scrape /metrics',
      ),
    );
    return out;
  }
  const metrics = metricsUrl(listen, base);
  try {
    const r = await get(metrics);
    out.push(
      r.status === 200 && r.body.includes('gatehouse_')
        ? pass('gateway.metrics', `${metrics} serves Gatehouse metrics (${r.ms} ms)`)
        : fail(
            'gateway.metrics',
            `${metrics} answered ${r.status} without Gatehouse metrics`,
            `check that metrics.listen (${listen}) belongs to this gateway`,
          ),
    );
  } catch (err) {
    out.push(
      fail(
        'gateway.metrics',
        `${metrics}: ${reasonOf(err)}`,
        `check metrics.listen (${listen}) and that this host may reach it`,
      ),
    );
  }
  return out;
}
