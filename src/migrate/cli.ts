import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { migrateOauth2Proxy, Oauth2ProxyInputError, reportLine } from './migrateOauth2Proxy.js';

const USAGE = `Usage: gatehouse migrate oauth2-proxy [FILE] [--env] [--out gatehouse.yaml] [-- oauth2-proxy flags…]

Reads an oauth2-proxy configuration — its TOML file, its OAUTH2_PROXY_* environment (--env) and
its command-line flags (after --), the later winning as in oauth2-proxy — and writes a Gatehouse
configuration (stdout, or --out FILE) with a report of every option: mapped, changed in meaning,
or unsupported and why (stderr, and as comments in the file).

Exit status: 0 when the configuration is complete; 78 when it still lacks something to start
(each missing key is named with its fix); 2 for unreadable input.
`;

/** `gatehouse migrate …`. */
export async function runMigrateCli(argv: string[]): Promise<void> {
  const [from, ...rest] = argv;
  if (from === '--help' || from === '-h' || from === undefined) {
    process.stdout.write(USAGE);
    return;
  }
  if (from !== 'oauth2-proxy') {
    process.stderr.write(`gatehouse migrate: cannot migrate from "${from}" (only oauth2-proxy)\n\n${USAGE}`);
    process.exit(2);
  }
  const dashes = rest.indexOf('--');
  const own = dashes === -1 ? rest : rest.slice(0, dashes);
  const flags = dashes === -1 ? [] : rest.slice(dashes + 1);
  let values: { env?: boolean; out?: string };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: own,
      allowPositionals: true,
      options: { env: { type: 'boolean' }, out: { type: 'string', short: 'o' } },
    }));
  } catch (err) {
    process.stderr.write(`gatehouse migrate: ${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (positionals.length > 1) {
    process.stderr.write(`gatehouse migrate: one oauth2-proxy file at most\n\n${USAGE}`);
    process.exit(2);
  }
  let m: ReturnType<typeof migrateOauth2Proxy>;
  try {
    m = migrateOauth2Proxy({
      ...(positionals[0] ? { file: positionals[0] } : {}),
      ...(values.env ? { env: process.env } : {}),
      flags,
    });
  } catch (err) {
    if (err instanceof Oauth2ProxyInputError) {
      process.stderr.write(`gatehouse migrate: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  for (const line of m.report) process.stderr.write(`${reportLine(line)}\n`);
  if (values.out) {
    writeFileSync(values.out, m.yaml, { mode: 0o600 }); // it may hold the client secret
    process.stderr.write(`wrote ${values.out}\n`);
  } else process.stdout.write(m.yaml);
  if (m.problems.length) {
    process.stderr.write(
      `gatehouse migrate: the configuration still needs:\n${m.problems.map((p) => `  - ${p}`).join('\n')}\n`,
    );
    process.exit(78);
  }
}
