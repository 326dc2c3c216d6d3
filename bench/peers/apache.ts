/**
 * Apache 2.4 (mpm_event) instances of our own: each has its own ServerRoot/PidFile/port/config in a
 * temp dir, runs in the foreground under the harness, and logs every request (as Gatehouse does).
 * `oidc` adds mod_auth_openidc in front of the whole site with a shm or Redis session cache. The
 * server skeleton (modules, mpm, logs) is test/helpers/apache.ts's, shared with the interop test.
 */

import type { ChildProcess } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { APACHE_BIN, apacheServerConfig, loadModule as load } from '../../test/helpers/apache.js';
import { startChild, stderrTail, stopChild, tempDir, untilAnswers } from './children.js';

export interface ApacheOidc {
  issuer: string;
  clientId: string;
  clientSecret: string;
  cache: 'shm' | 'redis';
  /** `OIDCRefreshAccessTokenBeforeExpiry` seconds: refresh when the access token expires this soon. */
  refreshBeforeExpiry: number;
  redisServer?: string;
  redisDatabase?: number;
}

export interface ApacheInstance {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export const redirectPath = '/redirect_uri';

export function apacheConfig(dir: string, port: number, upstream: string, oidc?: ApacheOidc): string {
  const url = `http://127.0.0.1:${port}`;
  const lines = apacheServerConfig(dir, port, process.env.BENCH_PEERS_APACHE_LOGLEVEL ?? 'warn');
  if (oidc) {
    lines.push(
      load('auth_openidc'),
      `OIDCProviderMetadataURL ${oidc.issuer}/.well-known/openid-configuration`,
      `OIDCClientID ${oidc.clientId}`,
      `OIDCClientSecret ${oidc.clientSecret}`,
      `OIDCRedirectURI ${url}${redirectPath}`,
      `OIDCCryptoPassphrase bench-peers-${process.pid}-${port}-passphrase`,
      // No offline_access: oidc-provider drops it without prompt=consent, and mod_auth_openidc sends its
      // scope again with every refresh (invalid_scope). The bench IdP issues refresh tokens regardless.
      'OIDCScope "openid email profile"',
      'OIDCPKCEMethod S256',
      'OIDCSessionType server-cache',
      `OIDCCacheType ${oidc.cache}`,
      `OIDCRefreshAccessTokenBeforeExpiry ${oidc.refreshBeforeExpiry}`,
      'OIDCSessionInactivityTimeout 3600',
    );
    if (oidc.cache === 'redis') {
      lines.push(`OIDCRedisCacheServer ${oidc.redisServer ?? '127.0.0.1:6379'}`);
      if (oidc.redisDatabase !== undefined) lines.push(`OIDCRedisCacheDatabase ${oidc.redisDatabase}`);
    }
    lines.push(
      `ProxyPass ${redirectPath} !`,
      '<Location />',
      '  AuthType openid-connect',
      '  Require valid-user',
      '</Location>',
    );
  }
  lines.push(`ProxyPass / ${upstream}/ keepalive=On`, `ProxyPassReverse / ${upstream}/`);
  return `${lines.join('\n')}\n`;
}

export async function startApache(
  name: string,
  port: number,
  upstream: string,
  oidc?: ApacheOidc,
): Promise<ApacheInstance> {
  const dir = tempDir(`apache-${name}`);
  chmodSync(dir, 0o777); // workers run as www-data and write the shm/mutex files here
  const conf = join(dir, 'httpd.conf');
  writeFileSync(conf, apacheConfig(dir, port, upstream, oidc));
  const child = startChild(APACHE_BIN, ['-d', dir, '-f', conf, '-DFOREGROUND'], {
    env: { ...process.env, APACHE_RUN_DIR: dir, APACHE_LOCK_DIR: dir, APACHE_LOG_DIR: dir },
  });
  const tail = stderrTail(child);
  const url = `http://127.0.0.1:${port}`;
  try {
    await untilAnswers(`${url}/`, `Apache (${name})`, child);
  } catch (err) {
    await stopChild(child, 'SIGKILL');
    throw new Error(`${(err as Error).message}: ${tail()}`);
  }
  return { url, child, stop: () => stopChild(child, 'SIGTERM') };
}
