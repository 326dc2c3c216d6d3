import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The one seam between Gatehouse and OpenTelemetry. Every span is made through a `Tracing`; the
 * code that makes them never imports `@opentelemetry/*`, so those packages stay optional and are
 * loaded (openTelemetry.ts) only when `tracing.enabled` is set. Off, the seam is `noTracing`: no
 * span object, no context, no header — each call runs its function and nothing else.
 *
 * Attribute values must never carry a token, a cookie, a secret or a query string (a callback's
 * `?code=`): span names and attributes are exported to a collector outside the trust boundary.
 */
export type SpanAttributes = Record<string, string | number | boolean | undefined>;

/** What the function inside a span may say about it before it ends. */
export interface SpanHandle {
  /** Undefined values are left out. */
  setAttributes(attrs: SpanAttributes): void;
  /** Marks the span failed; `message` says why in words (never a token or a header value). */
  fail(message: string): void;
}

/** OpenTelemetry's span kinds that Gatehouse uses: its own work, the request it serves, a call it makes. */
export type SpanKindName = 'internal' | 'server' | 'client';

export interface Tracing {
  readonly enabled: boolean;
  /**
   * Runs `fn` inside a span named `name`, child of the span current where it is called; the span
   * ends when `fn`'s promise settles (failed, with the error's name, when it rejects).
   */
  span<T>(
    name: string,
    kind: SpanKindName,
    attrs: SpanAttributes,
    fn: (span: SpanHandle) => Promise<T>,
  ): Promise<T>;
  /**
   * Runs the handling of one request inside its server span (`gatehouse.request`), which ends when
   * the response closes, with the status and `ending()`'s attributes (the decision, known last).
   */
  request(
    req: IncomingMessage,
    res: ServerResponse,
    ending: () => SpanAttributes,
    fn: () => Promise<void>,
  ): Promise<void>;
  /** Adds attributes to the request span of the current context (the engine names the route). */
  annotateRequest(attrs: SpanAttributes): void;
  /**
   * Writes the current span's W3C `traceparent` (and `tracestate`) into outgoing request headers,
   * replacing a client's copies.
   */
  inject(headers: Record<string, string | string[]>): void;
  /** Exports what is buffered and stops; bounded by the caller (shutdown's deadline). */
  shutdown(): Promise<void>;
}

const NO_SPAN: SpanHandle = {
  setAttributes() {},
  fail() {},
};

/** Tracing off (the default): every method is a pass-through. */
export const noTracing: Tracing = {
  enabled: false,
  span: (_name, _kind, _attrs, fn) => fn(NO_SPAN),
  request: (_req, _res, _ending, fn) => fn(),
  annotateRequest() {},
  inject() {},
  shutdown: () => Promise.resolve(),
};
