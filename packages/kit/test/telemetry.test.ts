import { defineRpc, UserRegistered } from '@chartwright/contracts';
import { context, trace } from '@opentelemetry/api';
import { NodeSDK, tracing } from '@opentelemetry/sdk-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  callRpc,
  consumeEvents,
  createLogger,
  makeEvent,
  newId,
  on,
  publishEvent,
  SpanKind,
  serveRpc,
  withSpan,
} from '../src/index.js';
import { eventually, type TestBus, testBuses, uniqueName } from '../src/testing/index.js';

const exporter = new tracing.InMemorySpanExporter();
const sdk = new NodeSDK({ serviceName: 'test', spanProcessors: [new tracing.SimpleSpanProcessor(exporter)] });
const logger = createLogger('test', 'silent');
let buses: TestBus[] = [];

beforeAll(async () => {
  sdk.start();
  buses = await testBuses();
});
afterAll(async () => {
  for (const b of buses) await b.cleanup();
  await sdk.shutdown();
});

describe('trace context across the bus', () => {
  it.each(['jetstream', 'memory'] as const)(
    'follows an event and a request from publisher to consumer [%s]',
    async (kind) => {
      const tb = buses.find((b) => b.name === kind) ?? buses[0]!;
      const bus = tb.bus;
      const durable = uniqueName('trace');
      const subject = `svc.${uniqueName('t')}.echo`;
      const Echo = defineRpc(subject, z.object({ n: z.number() }), z.object({ n: z.number() }));
      const rpc = await serveRpc(bus, Echo, 'echo', logger, async (r) => r);
      const e = makeEvent(
        UserRegistered,
        { userId: newId(), email: 't@example.com', name: null, plan: 'free', role: 'user' },
        { source: 'test' },
      );
      let seen = false;
      const sub = await consumeEvents(
        bus,
        { stream: 'USERS', durable, filterSubject: 'user.registered' },
        [
          on(UserRegistered, async (ev) => {
            if (ev.id === e.id) seen = true;
          }),
        ],
        logger,
      );
      let traceId = '';
      await withSpan('request', SpanKind.INTERNAL, {}, async (span) => {
        traceId = span.spanContext().traceId;
        // The envelope is built inside the span, so it carries its traceparent.
        const inSpan = makeEvent(UserRegistered, e.data, { source: 'test', id: e.id });
        expect(inSpan.traceparent).toContain(traceId);
        await publishEvent(bus, inSpan);
        await callRpc(bus, Echo, { n: 1 });
      });
      await eventually(() => seen);
      await sub.stop();
      await rpc.stop();
      const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
      const names = spans.map((s) => s.name);
      expect(names).toEqual(
        expect.arrayContaining([
          'request',
          'send user.registered',
          'process user.registered',
          `send ${subject}`,
          `process ${subject}`,
        ]),
      );
      // Messaging conventions: a producer and a consumer span, the consumer under the producer.
      const producer = spans.find((s) => s.name === 'send user.registered')!;
      const consumer = spans.find((s) => s.name === 'process user.registered')!;
      expect(producer.kind).toBe(SpanKind.PRODUCER);
      expect(consumer.kind).toBe(SpanKind.CONSUMER);
      expect(producer.attributes).toMatchObject({
        'messaging.system': 'nats',
        'messaging.destination.name': 'user.registered',
        'messaging.message.id': e.id,
      });
      expect(consumer.attributes['messaging.message.id']).toBe(e.id);
      expect(consumer.parentSpanContext?.spanId).toBe(producer.spanContext().spanId);
      expect(trace.getSpan(context.active())).toBeUndefined();
    },
  );
});
