import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type * as Api from '@opentelemetry/api';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { SpanAttributes, SpanHandle, SpanKindName, Tracing } from './tracing.js';

/** The `tracing` section as the tracer needs it (config/schema.ts documents each key). */
export interface TracingSettings {
  /** OTLP/HTTP traces URL; unset: the exporter's own default (OTEL_EXPORTER_OTLP_*_ENDPOINT, else localhost:4318). */
  otlpEndpoint?: string | undefined;
  serviceName: string;
  /** Share of new traces recorded, 0..1 (a continued trace follows its parent's choice). */
  sampleRatio: number;
  /** A client's `traceparent` becomes the parent of the request span. */
  continueClientTraces: boolean;
}

/**
 * The optional packages, with the versions tested (package.json `peerDependencies`). Imported
 * only here, only when tracing is on, so a gateway without them runs as before.
 */
export const OPENTELEMETRY_PACKAGES = {
  '@opentelemetry/api': '~1.9.0',
  '@opentelemetry/core': '~2.12.1',
  '@opentelemetry/sdk-trace-base': '~2.12.1',
  '@opentelemetry/exporter-trace-otlp-http': '~0.223.1',
  '@opentelemetry/resources': '~2.12.1',
} as const;

/** `tracing.enabled` while the OpenTelemetry packages cannot be loaded; the core makes it exit 78. */
export class TracingUnavailableError extends Error {
  constructor(readonly missing: string[]) {
    super(
      `tracing.enabled: the OpenTelemetry packages are not installed (missing: ${missing.join(', ')}) — install them next to gatehouse: npm install ${Object.entries(
        OPENTELEMETRY_PACKAGES,
      )
        .map(([name, range]) => `${name}@${range}`)
        .join(' ')}; or set tracing.enabled: false`,
    );
    this.name = 'TracingUnavailableError';
  }
}

type Modules = {
  api: typeof import('@opentelemetry/api');
  core: typeof import('@opentelemetry/core');
  sdk: typeof import('@opentelemetry/sdk-trace-base');
  exporter: typeof import('@opentelemetry/exporter-trace-otlp-http');
  resources: typeof import('@opentelemetry/resources');
};

/** How a package is imported; a test replaces it to see the error of a missing one. */
export type PackageImporter = (name: keyof typeof OPENTELEMETRY_PACKAGES) => Promise<unknown>;

export interface TracingHooks {
  /**
   * A batch the collector did not take (down, refusing): `dropped` spans lost so far, `cause` in
   * words. Called at most once a minute, so a collector that is down cannot flood the log.
   */
  onExportFailure?: (dropped: number, cause: string) => void;
  importer?: PackageImporter;
}

const importPackage: PackageImporter = (name) => {
  switch (name) {
    case '@opentelemetry/api':
      return import('@opentelemetry/api');
    case '@opentelemetry/core':
      return import('@opentelemetry/core');
    case '@opentelemetry/sdk-trace-base':
      return import('@opentelemetry/sdk-trace-base');
    case '@opentelemetry/exporter-trace-otlp-http':
      return import('@opentelemetry/exporter-trace-otlp-http');
    case '@opentelemetry/resources':
      return import('@opentelemetry/resources');
  }
};

async function loadModules(importer: PackageImporter): Promise<Modules> {
  const names = Object.keys(OPENTELEMETRY_PACKAGES) as Array<keyof typeof OPENTELEMETRY_PACKAGES>;
  const loaded = await Promise.allSettled(names.map((n) => importer(n)));
  const missing = names.filter((_, i) => loaded[i]!.status === 'rejected');
  if (missing.length) throw new TracingUnavailableError(missing);
  const [api, core, sdk, exporter, resources] = loaded.map(
    (r) => (r as PromiseFulfilledResult<unknown>).value,
  );
  return { api, core, sdk, exporter, resources } as Modules;
}

/**
 * The exporter, telling `onExportFailure` about the batches it lost (OpenTelemetry itself only
 * tells its diagnostic logger, which is silent unless registered globally).
 */
function reportingFailures(
  inner: SpanExporter,
  core: Modules['core'],
  onFailure: TracingHooks['onExportFailure'],
): SpanExporter {
  if (!onFailure) return inner;
  let dropped = 0;
  let lastReport = Number.NEGATIVE_INFINITY;
  return {
    export(spans, done) {
      inner.export(spans, (result) => {
        if (result.code !== core.ExportResultCode.SUCCESS) {
          dropped += spans.length;
          const now = performance.now();
          if (now - lastReport >= 60_000) {
            lastReport = now;
            onFailure(dropped, result.error ? describe(result.error) : 'export failed');
          }
        }
        done(result);
      });
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  };
}

/** An export error in words: its message and code (the collector's address at most, no span data). */
function describe(err: Error): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? `${err.message} (${code})` : err.message;
}

/** What the current async context knows: the OpenTelemetry context, and the request's span. */
interface Frame {
  ctx: Api.Context;
  request: Api.Span | undefined;
}

/** Span attributes without the undefined values (OpenTelemetry refuses them). */
function defined(attrs: SpanAttributes): Api.Attributes {
  const out: Api.Attributes = {};
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) out[k] = v;
  return out;
}

/** A request target as a span attribute: the path only, never the query (a callback's `?code=`). */
function pathOf(url: string | undefined): string {
  const path = (url ?? '/').split('?', 1)[0]!;
  return path.length > 256 ? `${path.slice(0, 256)}…` : path;
}

/**
 * Tracing on: a tracer provider of our own (never the global one, so two gateways in one process
 * do not share it), a batch processor exporting OTLP/HTTP JSON, and the current span carried in
 * an AsyncLocalStorage of our own, so no global context manager is registered either.
 */
export async function startOpenTelemetry(
  settings: TracingSettings,
  hooks: TracingHooks = {},
): Promise<Tracing> {
  const { api, core, sdk, exporter, resources } = await loadModules(hooks.importer ?? importPackage);
  const otlp = new exporter.OTLPTraceExporter(settings.otlpEndpoint ? { url: settings.otlpEndpoint } : {});
  const provider = new sdk.BasicTracerProvider({
    resource: resources.resourceFromAttributes({ 'service.name': settings.serviceName }),
    sampler: new sdk.ParentBasedSampler({ root: new sdk.TraceIdRatioBasedSampler(settings.sampleRatio) }),
    spanProcessors: [new sdk.BatchSpanProcessor(reportingFailures(otlp, core, hooks.onExportFailure))],
  });
  const tracer = provider.getTracer('gatehouse');
  const propagator = new core.W3CTraceContextPropagator();
  const frames = new AsyncLocalStorage<Frame>();
  const KIND: Record<SpanKindName, Api.SpanKind> = {
    internal: api.SpanKind.INTERNAL,
    server: api.SpanKind.SERVER,
    client: api.SpanKind.CLIENT,
  };
  const handle = (span: Api.Span): SpanHandle => ({
    setAttributes: (attrs) => void span.setAttributes(defined(attrs)),
    fail: (message) => void span.setStatus({ code: api.SpanStatusCode.ERROR, message }),
  });

  return {
    enabled: true,
    span(name, kind, attrs, fn) {
      const frame = frames.getStore();
      const parent = frame?.ctx ?? api.ROOT_CONTEXT;
      const span = tracer.startSpan(name, { kind: KIND[kind], attributes: defined(attrs) }, parent);
      return frames.run({ ctx: api.trace.setSpan(parent, span), request: frame?.request }, async () => {
        try {
          return await fn(handle(span));
        } catch (err) {
          // The error's class only: a message may quote a provider's answer.
          span.setStatus({ code: api.SpanStatusCode.ERROR, message: (err as Error)?.name ?? 'Error' });
          throw err;
        } finally {
          span.end();
        }
      });
    },
    request(req: IncomingMessage, res: ServerResponse, ending, fn) {
      // The client's trace is continued (W3C Trace Context) unless configured otherwise; it only
      // ever chooses the parent span and, through the parent-based sampler, whether to record.
      const parent = settings.continueClientTraces
        ? propagator.extract(api.ROOT_CONTEXT, req.headers, api.defaultTextMapGetter)
        : api.ROOT_CONTEXT;
      const span = tracer.startSpan(
        'gatehouse.request',
        {
          kind: api.SpanKind.SERVER,
          attributes: defined({
            'http.request.method': req.method,
            'url.path': pathOf(req.url),
            'server.address': req.headers.host?.split(':', 1)[0],
          }),
        },
        parent,
      );
      res.once('close', () => {
        span.setAttributes(defined({ 'http.response.status_code': res.statusCode, ...ending() }));
        if (res.statusCode >= 500) span.setStatus({ code: api.SpanStatusCode.ERROR });
        span.end();
      });
      return frames.run({ ctx: api.trace.setSpan(parent, span), request: span }, fn);
    },
    annotateRequest(attrs) {
      frames.getStore()?.request?.setAttributes(defined(attrs));
    },
    inject(headers) {
      // A client's own copies never pass next to ours (they would name another parent).
      delete headers.traceparent;
      delete headers.tracestate;
      const frame = frames.getStore();
      if (frame) propagator.inject(frame.ctx, headers, api.defaultTextMapSetter);
    },
    shutdown: () => provider.shutdown(),
  };
}
