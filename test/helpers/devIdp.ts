// The dev IdP as tests start it: a free port, no console output, alice approved at once (a
// login page test passes `autoLogin: undefined`). One place, so every suite starts the same IdP.
import { after, before } from 'node:test';
import { type DevIdp, type DevIdpOptions, startDevIdp } from '../../src/devidp/index.js';

export function startTestIdp(opts: DevIdpOptions = {}): Promise<DevIdp> {
  return startDevIdp({ port: 0, quiet: true, autoLogin: 'alice', ...opts });
}

/**
 * A dev IdP for the enclosing suite: started in its `before`, stopped in its `after`. The handle
 * can be taken at once (`const idp = useTestIdp()`) and used in any later hook or test; it
 * forwards to the running IdP, and touching it before the suite starts is an error that says so.
 * `opts` may be a function when an option is known only once the suite runs (another server's URL).
 */
export function useTestIdp(
  opts: DevIdpOptions | (() => DevIdpOptions | Promise<DevIdpOptions>) = {},
): DevIdp {
  let running: DevIdp | undefined;
  before(async () => {
    running = await startTestIdp(typeof opts === 'function' ? await opts() : opts);
  });
  after(() => running?.stop());
  // DevIdp's members are closures over the running server (no `this`), so forwarding reads is enough.
  return new Proxy({} as DevIdp, {
    get(_target, key) {
      if (running === undefined)
        throw new Error('the dev IdP starts in the suite’s before(): use it in a hook or test');
      return Reflect.get(running, key);
    },
  });
}
