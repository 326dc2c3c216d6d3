import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { assertionKeyProblems, readKeyFile } from '../../src/assertion/keyFile.js';
import { buildKeySet } from '../../src/assertion/keySet.js';
import { AssertionSigner } from '../../src/assertion/signer.js';
import { ManualClock } from '../../src/util/clock.js';

/** Key files of headers.assertionKeyFile: the algorithm follows from the key, a bad one is named. */
describe('assertion key files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-assertion-keys-'));
  const write = (name: string, content: string) => {
    const f = join(dir, name);
    writeFileSync(f, content);
    return f;
  };
  const pkcs8 = (k: ReturnType<typeof generateKeyPairSync>['privateKey']) =>
    k.export({ type: 'pkcs8', format: 'pem' }) as string;
  const identity = { sub: 'usr_x', user: 'x', email: 'x@example.com', groups: ['g'], roles: [] };

  for (const [name, key, alg] of [
    ['ec.pem', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, 'ES256'],
    ['rsa.pem', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, 'RS256'],
    ['ed.pem', generateKeyPairSync('ed25519').privateKey, 'EdDSA'],
  ] as const) {
    it(`${name}: signs ${alg}, and the assertion verifies with the published key`, async () => {
      const loaded = readKeyFile(write(name, pkcs8(key)), 'headers.assertionKeyFile', 'private');
      assert.equal(loaded.alg, alg);
      const keys = await buildKeySet(loaded, []);
      const signer = new AssertionSigner(
        keys,
        'https://gatehouse.example.com',
        { assertionClaims: ['sub'], assertionLifetimeSeconds: 300 },
        new ManualClock(),
      );
      const { token } = await signer.sign(identity, 'grafana');
      assert.deepEqual(decodeProtectedHeader(token), { alg, kid: keys.signing.kid, typ: 'JWT' });
      const { payload } = await jwtVerify(token, createPublicKey(key), {
        issuer: 'https://gatehouse.example.com',
        audience: 'grafana',
      });
      assert.equal(payload.sub, 'usr_x');
      assert.equal(payload.email, undefined);
    });
  }

  it('a private JWK works as a key file; its kid is the same as its PEM’s', async () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const fromJwk = readKeyFile(
      write('k.jwk', JSON.stringify(key.export({ format: 'jwk' }))),
      'k',
      'private',
    );
    const fromPem = readKeyFile(write('k.pem', pkcs8(key)), 'k', 'private');
    assert.equal((await buildKeySet(fromJwk, [])).signing.kid, (await buildKeySet(fromPem, [])).signing.kid);
  });

  it('names unusable files, keys and curves with the fix', () => {
    const p384 = write('p384.pem', pkcs8(generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey));
    const rsa1024 = write(
      'rsa1024.pem',
      pkcs8(generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey),
    );
    const publicJwk = write(
      'pub.jwk',
      JSON.stringify(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' })),
    );
    const garbage = write('garbage.pem', 'not a key\n');
    const fix =
      'use P-256 (ES256), RSA of 2048 bits or more (RS256) or Ed25519 (EdDSA) — generate one with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out assertion.pem`';
    const problems = assertionKeyProblems({
      assertionKeyFile: p384,
      // A public JWK is fine as a previous key: it is only published.
      assertionPreviousKeyFiles: [rsa1024, publicJwk, garbage],
    }).map((p) => p.replace(dir, 'DIR'));
    assert.equal(problems.length, 3, problems.join('\n'));
    assert.equal(problems[0], `headers.assertionKeyFile: DIR/p384.pem is an EC key on secp384r1; ${fix}`);
    assert.equal(
      problems[1],
      `headers.assertionPreviousKeyFiles[0]: DIR/rsa1024.pem is a 1024-bit RSA key; ${fix}`,
    );
    assert.match(
      problems[2]!,
      /^headers\.assertionPreviousKeyFiles\[2\]: DIR\/garbage\.pem holds no usable key \(.*\) — give a PEM PKCS#8 private key, a PEM public key or a JWK; generate one/,
    );
    assert.match(
      assertionKeyProblems({ assertionKeyFile: publicJwk, assertionPreviousKeyFiles: [] })[0]!,
      /headers\.assertionKeyFile: .*pub\.jwk holds no usable private key \(this JWK is a public key/,
    );
  });
});
