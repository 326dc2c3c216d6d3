import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { stopChild, track } from './children.js';

/**
 * A WSGI application on Python's own `wsgiref` server: the way WSGI (and PHP, CGI, Rack) read
 * request headers — `X-Forwarded-User` and `X_Forwarded_User` both become
 * `HTTP_X_FORWARDED_USER`, repeated ones comma-joined — is the point of testing against it.
 * It answers every request with the `HTTP_*` keys of its environ (and REMOTE_ADDR) as JSON.
 */
const APP = `
import json, socketserver, sys
from wsgiref.simple_server import WSGIServer, WSGIRequestHandler, make_server

class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass

class Threading(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True

def app(environ, start_response):
    n = int(environ.get('CONTENT_LENGTH') or 0)
    if n:
        environ['wsgi.input'].read(n)
    seen = {k: v for k, v in environ.items() if k.startswith('HTTP_') or k in ('REMOTE_ADDR', 'PATH_INFO')}
    body = json.dumps(seen).encode()
    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', str(len(body)))])
    return [body]

srv = make_server('127.0.0.1', 0, app, server_class=Threading, handler_class=Quiet)
print(srv.server_address[1], flush=True)
srv.serve_forever()
`;

export interface WsgiUpstream {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startWsgiUpstream(): Promise<WsgiUpstream> {
  const child = track(
    spawn(process.env.PYTHON ?? 'python3', ['-c', APP], { stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  let err = '';
  child.stderr!.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const lines = createInterface({ input: child.stdout! });
  const [first] = (await Promise.race([
    once(lines, 'line'),
    once(child, 'exit').then(() => {
      throw new Error(`python3 WSGI upstream exited before listening: ${err}`);
    }),
    once(child, 'error').then(([e]) => {
      throw new Error(`cannot run python3: ${(e as Error).message}`);
    }),
  ])) as [string];
  lines.close();
  const port = Number(first);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () => stopChild(child),
  };
}

/**
 * Spellings a WSGI/PHP/CGI application reads as the identity and forwarding headers Gatehouse
 * manages (`X_Forwarded_Groups` and `X-Forwarded-Groups` are both HTTP_X_FORWARDED_GROUPS).
 */
export const WSGI_SMUGGLED = {
  X_Forwarded_Groups: 'admins',
  X_Forwarded_User: 'mallory',
  'X-Forwarded_Email': 'mallory@evil.example',
  'X.Forwarded.Preferred.Username': 'mallory',
  X_Forwarded_Access_Token: 'forged',
  X_Forwarded_Client_Id: 'forged-client',
  x_real_ip: '6.6.6.6',
  X_Forwarded_Host: 'evil.example',
};

/** What the WSGI application saw: its environ's HTTP_* keys, REMOTE_ADDR and PATH_INFO. */
export type WsgiEnviron = Record<string, string | undefined>;
