/**
 * What `bench:peers` needs from the distribution: Apache 2.4 with mod_auth_openidc, and wrk. Installed
 * with apt-get when missing and running as root; otherwise the one command to run is printed. The
 * Debian apache2 service is stopped again after an install: the harness runs its own instances.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { APACHE_BIN, APACHE_MODULES } from '../../test/helpers/apache.js';

const PACKAGES = ['apache2', 'libapache2-mod-auth-openidc', 'wrk'];
const INSTALL = `sudo apt-get install -y ${PACKAGES.join(' ')}`;

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function missing(): string[] {
  const out: string[] = [];
  // The binary by its path (as it is started): /usr/sbin is not on every user's PATH.
  if (!existsSync(APACHE_BIN) || !existsSync(`${APACHE_MODULES}/mod_proxy_http.so`)) out.push('apache2');
  if (!existsSync(`${APACHE_MODULES}/mod_auth_openidc.so`)) out.push('libapache2-mod-auth-openidc');
  if (!has('wrk')) out.push('wrk');
  return out;
}

export function ensureRequirements(): void {
  const need = missing();
  if (!need.length) return;
  const root = process.getuid?.() === 0;
  if (!root || !has('apt-get')) {
    process.stderr.write(
      `bench:peers needs ${need.join(', ')} (not installed). Run:\n\n  ${INSTALL}\n\nthen run \`npm run bench:peers\` again.\n`,
    );
    process.exit(2);
  }
  process.stderr.write(`bench:peers: installing ${need.join(' ')} with apt-get …\n`);
  execFileSync('apt-get', ['install', '-y', ...need], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  // The package starts a system Apache on port 80; this harness runs its own, so stop that one.
  spawnSync(
    'sh',
    ['-c', 'service apache2 stop; update-rc.d apache2 disable; systemctl disable --now apache2'],
    {
      stdio: 'ignore',
    },
  );
  const still = missing();
  if (still.length) {
    process.stderr.write(`bench:peers: still missing after apt-get: ${still.join(', ')}\n`);
    process.exit(2);
  }
}
