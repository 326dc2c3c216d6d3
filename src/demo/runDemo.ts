import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { startDevIdp } from '../devidp/index.js';
import { createGateway } from '../gateway.js';
import { randomToken } from '../util/crypto.js';
import { startDemoApp } from './upstreamApp.js';

/**
 * `gatehouse demo` / `npm start`: dev IdP + demo app + gateway on loopback, with short-lived
 * tokens so refresh can be watched happening.
 */
export async function runDemo(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: '4180' },
      'idp-port': { type: 'string', default: '9000' },
      profile: { type: 'string', multiple: true, default: ['short-expiry'] },
    },
  });
  const idp = await startDevIdp({
    port: Number(values['idp-port']),
    profiles: values.profile ?? [],
    quiet: true,
  });
  const app = await startDemoApp(0);
  const port = Number(values.port);
  const publicUrl = `http://127.0.0.1:${port}`;
  const cfg = loadConfig({
    object: {
      listen: `127.0.0.1:${port}`,
      publicUrl,
      upstream: app.url,
      provider: { issuer: idp.issuer, clientId: 'gatehouse', clientSecret: 'gatehouse-dev-secret' },
      session: { secret: randomToken(32) },
      logging: { level: 'warn' },
    },
    env: {},
  });
  const gw = await createGateway(cfg);
  await gw.listen();
  process.stdout.write(
    [
      'Gatehouse demo is running.',
      `  open:      ${publicUrl}/`,
      `  dev IdP:   ${idp.issuer} (profiles: ${idp.profiles().join(', ') || 'none'})`,
      `  console:   ${idp.issuer}/__admin/ (live: profiles, faults, requests, token timelines)`,
      `  demo app:  ${app.url} (behind the gateway)`,
      '  users:     alice (admins, dev) · bob (dev) · carol (no groups) — pick one on the login page',
      '  tokens live 10 s, so you can watch the live panel keep working across refreshes.',
      'Press Ctrl+C to stop.',
      '',
    ].join('\n'),
  );
  const stop = async () => {
    await gw.close();
    app.server.close();
    await idp.stop();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
