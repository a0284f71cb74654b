import {
  type Context,
  context,
  type MeterProvider,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import type { NodeSDK } from '@opentelemetry/sdk-node';
import { tracingConfigured } from './telemetry/config.js';
import { getInstrumentations, WITHOUT_METRICS } from './telemetry/instrumentations.js';

let sdk: NodeSDK | undefined;

/**
 * Starts tracing when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_TRACES_EXPORTER`, e.g. `console`)
 * is set; the exporter and its protocol come from the standard OTEL_* variables. Library spans
 * (HTTP, Fastify, pg, ioredis, undici, AWS SDK) need `@chartwright/kit/instrument` imported
 * first by the entry. Without it, tracing calls are no-ops. Metrics are separate (`/metrics`).
 */
export async function startTelemetry(serviceName: string, env = process.env): Promise<boolean> {
  if (!tracingConfigured(env) || sdk) return Boolean(sdk);
  // Loaded lazily: the SDK is large and most local runs do not export.
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  sdk = new NodeSDK({
    serviceName,
    instrumentations: getInstrumentations(),
    // The process's MeterProvider is the kit's (read by /metrics); logs go to stdout (pino).
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  // The SDK hands every instrumentation the global MeterProvider: take it back where unwanted.
  for (const i of getInstrumentations()) {
    const none = (i as unknown as Record<symbol, MeterProvider | undefined>)[WITHOUT_METRICS];
    if (none) i.setMeterProvider(none);
  }
  return true;
}

export async function stopTelemetry(): Promise<void> {
  await sdk?.shutdown().catch(() => undefined);
  sdk = undefined;
}

export const tracer = () => trace.getTracer('chartwright');

/** Writes the active trace context into a plain header map (W3C `traceparent`/`tracestate`). */
export function injectTraceHeaders(headers: Record<string, string> = {}, ctx: Context = context.active()) {
  propagation.inject(ctx, headers);
  return headers;
}

/** Reads a trace context from a plain header map. */
export function extractTraceContext(headers: Record<string, string | undefined>): Context {
  return propagation.extract(context.active(), headers);
}

/** Runs `fn` in a span, recording errors; the span is a child of `parent` when given. */
export async function withSpan<T>(
  name: string,
  kind: SpanKind,
  attributes: Record<string, string | number | boolean>,
  fn: (span: Span) => Promise<T>,
  parent: Context = context.active(),
): Promise<T> {
  const span = tracer().startSpan(name, { kind, attributes }, parent);
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (err) {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
    throw err;
  } finally {
    span.end();
  }
}

export { SpanKind };
