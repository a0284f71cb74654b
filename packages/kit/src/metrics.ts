import { type Attributes, type Counter, type Histogram, metrics } from '@opentelemetry/api';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { RuntimeNodeInstrumentation } from '@opentelemetry/instrumentation-runtime-node';
import { MeterProvider, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { FastifyInstance } from 'fastify';

/**
 * Every process keeps its metrics in one OpenTelemetry MeterProvider, read on demand by
 * `GET /metrics` (Prometheus text): nothing to configure, no OTLP endpoint needed. It is the
 * global provider, so `meter()` anywhere (services, instrumentations) records into it.
 */
const KEY = Symbol.for('chartwright.metrics');
interface MetricsState {
  provider: MeterProvider;
  reader: PrometheusExporter;
}
const store = globalThis as { [KEY]?: MetricsState };

function state(): MetricsState {
  if (store[KEY]) return store[KEY];
  // Read only when scraped: the exporter's own HTTP server is never started.
  const reader = new PrometheusExporter({ preventServerStart: true });
  const provider = new MeterProvider({ readers: [reader] });
  metrics.setGlobalMeterProvider(provider);
  // Event-loop delay, heap and GC (nodejs.eventloop.*, v8js.*).
  registerInstrumentations({
    instrumentations: [new RuntimeNodeInstrumentation({ monitoringPrecision: 10 })],
    meterProvider: provider,
  });
  store[KEY] = { provider, reader };
  return store[KEY];
}

/** Installs the process's MeterProvider (idempotent); called as the kit loads. */
export const ensureMetrics = (): void => void state();
ensureMetrics();

/** The meter every Chartwright instrument belongs to. */
export const meter = () => metrics.getMeter('chartwright');

/**
 * An instrument created on first use: modules may declare theirs at the top level whatever the
 * order in which they load.
 */
export function lazy<T>(create: () => T): () => T {
  let value: T | undefined;
  return () => {
    value ??= create();
    return value;
  };
}

/** Seconds since `start` (from `performance.now()`). */
export const secondsSince = (start: number): number => (performance.now() - start) / 1000;

/** Times `fn` into `histogram` (seconds), with `attributes(outcome)` where outcome is ok/error. */
export async function timed<T>(
  histogram: () => Histogram,
  attributes: Attributes,
  fn: () => Promise<T>,
): Promise<T> {
  const start = performance.now();
  let outcome = 'ok';
  try {
    return await fn();
  } catch (err) {
    outcome = 'error';
    throw err;
  } finally {
    histogram().record(secondsSince(start), { ...attributes, outcome });
  }
}

export type { Counter, Histogram };

/**
 * Prometheus names per the OpenTelemetry compatibility rules: dots become underscores and the
 * unit is appended (`http.server.request.duration` in `s` → `http_server_request_duration_seconds`);
 * counters get `_total` from the serializer.
 */
const UNIT_SUFFIX: Record<string, string> = { s: 'seconds', By: 'bytes', ms: 'milliseconds' };

function withUnitSuffix(m: MetricData): MetricData {
  const suffix = UNIT_SUFFIX[m.descriptor.unit];
  const name = m.descriptor.name;
  if (!suffix || name.endsWith(`.${suffix}`) || name.endsWith(`_${suffix}`)) return m;
  return { ...m, descriptor: { ...m.descriptor, name: `${name}.${suffix}` } } as MetricData;
}

const serializer = new PrometheusSerializer(undefined, false, undefined, true, true);

/** The process's metrics in the Prometheus text exposition format. */
export async function prometheusText(): Promise<string> {
  const { resourceMetrics } = await state().reader.collect();
  const renamed: ResourceMetrics = {
    ...resourceMetrics,
    scopeMetrics: resourceMetrics.scopeMetrics.map((s) => ({ ...s, metrics: s.metrics.map(withUnitSuffix) })),
  };
  return serializer.serialize(renamed);
}

/** `GET /metrics` on the host's port (not routed by the Ingress: see k8s/gateway.yaml). */
export function registerMetricsRoute(app: FastifyInstance): void {
  app.get('/metrics', { logLevel: 'warn' }, async (_req, reply) =>
    reply.type('text/plain; version=0.0.4; charset=utf-8').send(await prometheusText()),
  );
}
