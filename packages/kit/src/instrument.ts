/**
 * Imported FIRST by every process's entry (`import '@chartwright/kit/instrument'`, before the
 * entry loads anything else with a dynamic `import()`): the OpenTelemetry instrumentations for
 * pg, ioredis, node:http, undici, the AWS SDK and Fastify patch those modules as they load, so
 * they must be in place before the modules are. Nothing is loaded unless tracing is configured
 * (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_TRACES_EXPORTER`); `startTelemetry` starts the SDK.
 */
import { tracingConfigured } from './telemetry/config.js';
import { setInstrumentations } from './telemetry/instrumentations.js';

if (tracingConfigured(process.env)) {
  const { register } = await import('node:module');
  // ESM imports are only seen through a loader hook (CommonJS requires are patched directly).
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
  const { createInstrumentations } = await import('./telemetry/create-instrumentations.js');
  setInstrumentations(await createInstrumentations());
}
