import { connect } from 'node:net';

/** An HTTP answer read off a raw socket. */
export interface RawReply {
  status: number;
  headers: Record<string, string>;
  body: string;
  json<T = Record<string, unknown>>(): T;
}

/**
 * Sends one request with `target` written to the wire byte for byte — no URL parser in between,
 * so a `#` or a `\` really reaches the server (fetch and undici would cut or re-encode them).
 * `Connection: close` unless `headers` has a Connection header of its own; the answer is read
 * until the server closes (chunked bodies are decoded).
 */
export function rawRequest(
  baseUrl: string,
  target: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<RawReply> {
  const u = new URL(baseUrl);
  const lines = [`${method} ${target} HTTP/1.1`, `Host: ${u.host}`];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  if (!Object.keys(headers).some((k) => k.toLowerCase() === 'connection')) lines.push('Connection: close');
  lines.push('', '');
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(u.port), u.hostname, () => socket.write(lines.join('\r\n'), 'latin1'));
    socket.setTimeout(15_000, () => socket.destroy(new Error(`no answer to ${method} ${target}`)));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      if (split === -1) return reject(new Error(`no HTTP answer to ${target}: ${JSON.stringify(text)}`));
      const [statusLine = '', ...headerLines] = text.slice(0, split).split('\r\n');
      const out: Record<string, string> = {};
      for (const h of headerLines) {
        const i = h.indexOf(':');
        out[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
      }
      let body = text.slice(split + 4);
      if (/chunked/i.test(out['transfer-encoding'] ?? '')) body = dechunk(body);
      resolve({
        status: Number(statusLine.split(' ')[1]),
        headers: out,
        body,
        json: <T>() => JSON.parse(body) as T,
      });
    });
  });
}

function dechunk(s: string): string {
  let out = '';
  let at = 0;
  for (;;) {
    const eol = s.indexOf('\r\n', at);
    if (eol === -1) return out;
    const size = Number.parseInt(s.slice(at, eol), 16);
    if (!size) return out;
    out += s.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}
