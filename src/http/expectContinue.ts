import type { ServerResponse } from 'node:http';

/**
 * Responses whose client sent `Expect: 100-continue` and is still waiting for the `100`
 * (the gateway's `checkContinue`): they carry `Connection: close` until `continueBody` is called,
 * so a refused request's unread body is never parsed as the next request.
 */
const awaitingContinue = new WeakSet<ServerResponse>();

export function awaitContinue(res: ServerResponse): void {
  awaitingContinue.add(res);
  res.setHeader('connection', 'close');
}

/**
 * Lets the client send its body: `100 Continue` when it is waiting for one (once, and only on the
 * gateway's own server; in the middleware Node has already answered it), nothing otherwise.
 */
export function continueBody(res: ServerResponse): void {
  if (!awaitingContinue.delete(res) || res.headersSent) return;
  res.removeHeader('connection');
  res.writeContinue();
}
