import { FastifyOtelInstrumentation } from '@fastify/otel';
import { createNoopMeter, type MeterProvider } from '@opentelemetry/api';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { AwsInstrumentation } from '@opentelemetry/instrumentation-aws-sdk';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { WITHOUT_METRICS } from './instrumentations.js';

/** Requests never worth a span: probes and scrapes. */
const QUIET_PATHS = new Set(['/health', '/ready', '/metrics']);

/** HTTP metrics come from the kit's own histogram (with the route); these would duplicate them. */
const noMetrics: MeterProvider = { getMeter: () => createNoopMeter() };

export async function createInstrumentations(): Promise<Instrumentation[]> {
  const http = new HttpInstrumentation({
    ignoreIncomingRequestHook: (req) => QUIET_PATHS.has((req.url ?? '').split('?')[0]!),
  });
  const undici = new UndiciInstrumentation();
  for (const i of [http, undici]) {
    i.setMeterProvider(noMetrics);
    (i as unknown as Record<symbol, MeterProvider>)[WITHOUT_METRICS] = noMetrics;
  }
  return [
    http,
    undici,
    // Registers itself on every Fastify instance created (the `fastify.initialization` channel).
    new FastifyOtelInstrumentation({
      registerOnInitialization: true,
      ignorePaths: (opts) => QUIET_PATHS.has(opts.url.split('?')[0]!),
    }) as unknown as Instrumentation,
    new PgInstrumentation({ requireParentSpan: true }),
    new IORedisInstrumentation({ requireParentSpan: true }),
    new AwsInstrumentation({ suppressInternalInstrumentation: true }),
  ];
}
