import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { ConfigInput, GatehouseConfig } from '../config/schema.js';
import type { GatewayCore } from '../core/gatewayCore.js';
import type { Answer } from '../engine/decision.js';
import type { Identity } from '../identity/identity.js';
import { answer, audienceOf } from './answer.js';
import { answerNotStarted, type EmbeddedOptions, embedGatehouse } from './embedded.js';
import { logRequest } from './requestLog.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is signed in (set by `gatehouse/fastify`); undefined on `skipAuth` paths. */
    gatehouse: Identity | undefined;
  }
  interface FastifyInstance {
    /** The Gatehouse plugin's start-up state. */
    gatehouse: GatehouseFastifyState;
  }
}

export interface GatehouseFastifyState {
  /**
   * Resolves once the store is connected, OIDC discovery succeeded and (with `metrics.listen`)
   * the metrics listener listens; rejects if start-up failed.
   */
  readonly ready: Promise<void>;
  /** The metrics listener's URL once listening (`metrics.listen` set); undefined otherwise. */
  readonly metricsUrl: string | undefined;
}

export interface GatehouseFastifyOptions extends EmbeddedOptions {
  /** A loaded config (`loadConfig()`) or a plain object in the YAML shape (loaded here). */
  config: GatehouseConfig | ConfigInput;
}

/**
 * Fastify routes a request before any hook runs, so unlike the middleware the plugin cannot hand
 * the application the normalised path it authorized: an allowed request whose target normalises
 * to another one (`//x`, `/a/../b`, `/%61`) would reach whatever route the raw target matched. A
 * GET or HEAD is redirected to the normalised target (routed and decided again there), anything
 * else refused, so the application only ever runs on the target that was decided on.
 */
function asDecided(req: IncomingMessage, decidedUrl: string): Answer {
  if (req.method === 'GET' || req.method === 'HEAD') {
    return { type: 'redirect', location: decidedUrl, setCookies: [] };
  }
  return {
    type: 'error',
    status: 400,
    code: 'bad_request',
    reason: `The request target is not in its normalised form; send it to ${decidedUrl}.`,
    setCookies: [],
  };
}

/**
 * `gatehouse/fastify`: Gatehouse as a Fastify plugin, on the same core (store, refresh
 * coordinator, engine) and the same answers as the reverse proxy and the middleware. An
 * `onRequest` hook on the whole application (the plugin is not encapsulated) serves `/oauth2/*`
 * and, for any other path, runs `engine.check`: on allow the request reaches its route with
 * client-sent identity headers replaced by the real ones, the Gatehouse cookies removed and
 * `request.gatehouse` set; otherwise Gatehouse answers (302 to the IdP, 401, 403, 503...) and no
 * route runs. The session store is closed with the Fastify instance.
 */
const gatehouseFastifyPlugin: FastifyPluginAsync<GatehouseFastifyOptions> = async (
  fastify: FastifyInstance,
  opts: GatehouseFastifyOptions,
) => {
  const { config, ...embedOpts } = opts;
  const gate = embedGatehouse(config, embedOpts, 'fastify plugin');
  fastify.decorateRequest('gatehouse', undefined);
  fastify.decorate('gatehouse', {
    ready: gate.ready,
    get metricsUrl() {
      return gate.metricsUrl;
    },
  });
  fastify.addHook('onClose', () => gate.close());
  fastify.addHook('onRequest', async (request, reply) => {
    const req = request.raw;
    const res = reply.raw;
    let c: GatewayCore;
    try {
      c = await gate.core;
    } catch {
      reply.hijack();
      return answerNotStarted(req, res);
    }
    const { requestId, log, failed } = logRequest(c, req, res);
    try {
      const raw = req.url ?? '/';
      const admitted = await gate.admit(c, req, res, raw, requestId, log);
      if (!admitted) {
        // Gatehouse has answered on the raw response: Fastify must not answer again.
        reply.hijack();
        return;
      }
      if (admitted.facts.url !== raw) {
        reply.hijack();
        return answer(
          res,
          asDecided(req, admitted.facts.url),
          audienceOf(admitted.facts),
          requestId,
          log,
          'not_normalised',
        );
      }
      request.gatehouse = admitted.decision.identity;
    } catch (err) {
      reply.hijack();
      failed(err);
    }
  });
};

// Not encapsulated: the hook guards every route of the application that registers the plugin,
// whatever its prefix or plugin context (Fastify's documented `skip-override`, as set by
// fastify-plugin).
Object.assign(gatehouseFastifyPlugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'gatehouse',
});

export default gatehouseFastifyPlugin;
export { gatehouseFastifyPlugin as gatehouseFastify };
