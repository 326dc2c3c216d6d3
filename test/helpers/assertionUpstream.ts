import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, type JWTPayload, type JWTVerifyResult, jwtVerify } from 'jose';

/** What the verifying upstream answers: the headers it got and its verdict on the assertion. */
export interface AssertionVerdict {
  headers: Record<string, string | undefined>;
  assertion: string | undefined;
  ok: boolean;
  payload?: JWTPayload;
  header?: JWTVerifyResult['protectedHeader'];
  error?: string;
}

/**
 * An application behind Gatehouse that trusts X-Gatehouse-Assertion as docs/assertion.md tells
 * it to: jose's createRemoteJWKSet on `<publicUrl>/oauth2/jwks`, jwtVerify with issuer =
 * publicUrl and its own audience. `trust(publicUrl)` is called once the gateway's URL is known.
 */
export interface AssertionUpstream {
  url: string;
  server: Server;
  trust(publicUrl: string, audience?: string): void;
  close(): Promise<void>;
}

export async function startAssertionUpstream(): Promise<AssertionUpstream> {
  let verify: ((token: string) => Promise<JWTVerifyResult>) | undefined;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', async () => {
      const assertion = req.headers['x-gatehouse-assertion'] as string | undefined;
      const out: AssertionVerdict = {
        headers: req.headers as Record<string, string | undefined>,
        assertion,
        ok: false,
      };
      if (assertion && verify) {
        try {
          const r = await verify(assertion);
          out.ok = true;
          out.payload = r.payload;
          out.header = r.protectedHeader;
        } catch (err) {
          out.error = `${(err as { code?: string }).code ?? 'error'}: ${(err as Error).message}`;
        }
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(out));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${a.port}`,
    server,
    trust(publicUrl, audience = 'default') {
      const jwks = createRemoteJWKSet(new URL(`${publicUrl}/oauth2/jwks`));
      verify = (token) => jwtVerify(token, jwks, { issuer: publicUrl, audience });
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
