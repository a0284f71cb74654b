import { dlqSubject, type EventDefinition, EventEnvelope, type TypedEnvelope } from '@chartwright/contracts';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { z } from 'zod';
import {
  backoffFor,
  type ConsumerSpec,
  DEFAULT_MAX_DELIVER,
  type Delivery,
  type MessageBus,
  type Subscription,
  type WatchSpec,
} from './bus/types.js';
import { isDatabaseUnavailable } from './db/faults.js';
import { newId } from './ids.js';
import { lazy, meter, secondsSince } from './metrics.js';
import { sleep } from './sleep.js';
import { extractTraceContext, injectTraceHeaders, withSpan } from './telemetry.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Builds an event envelope for `def`, carrying the active trace context. */
export function makeEvent<T extends string, D extends z.ZodType>(
  def: EventDefinition<T, D>,
  data: z.input<D>,
  opts: { source: string; subject?: string; id?: string; time?: Date },
): TypedEnvelope<T, z.infer<D>> {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  const envelope = {
    specversion: '1.0' as const,
    id: opts.id ?? newId(),
    type: def.type,
    source: opts.source,
    time: (opts.time ?? new Date()).toISOString(),
    subject: opts.subject,
    datacontenttype: 'application/json' as const,
    dataschema: def.dataschema,
    traceparent: carrier.traceparent,
    tracestate: carrier.tracestate,
    // Validate on the way out: a producer bug must not reach consumers.
    data: def.data.parse(data) as z.infer<D>,
  };
  return envelope as TypedEnvelope<T, z.infer<D>>;
}

export const encodeEvent = (e: EventEnvelope): Uint8Array => encoder.encode(JSON.stringify(e));

/** Publishes an event directly (no outbox): only for events with no state change behind them. */
export async function publishEvent(bus: MessageBus, event: EventEnvelope): Promise<void> {
  await publishTraced(bus, event.type, encodeEvent(event), event.id, eventHeaders(event));
}

/**
 * Publishes in a PRODUCER span (OpenTelemetry messaging conventions), a child of the trace the
 * event was made in (its envelope's `traceparent`, since a relay publishes it later, elsewhere).
 * The message's `traceparent` header names this span, so consumers hang under the publish.
 */
export async function publishTraced(
  bus: MessageBus,
  subject: string,
  data: Uint8Array,
  msgId: string,
  headers: Record<string, string>,
): Promise<void> {
  await withSpan(
    `send ${subject}`,
    SpanKind.PRODUCER,
    {
      'messaging.system': 'nats',
      'messaging.operation.type': 'send',
      'messaging.destination.name': subject,
      'messaging.message.id': msgId,
    },
    () => bus.publish(subject, data, { msgId, headers: injectTraceHeaders({ ...headers }) }),
    extractTraceContext({ traceparent: headers.traceparent, tracestate: headers.tracestate }),
  );
}

/** The message headers an event travels with: its CloudEvents type and trace context. */
export function eventHeaders(event: EventEnvelope): Record<string, string> {
  const headers: Record<string, string> = { 'Ce-Type': event.type };
  if (event.traceparent) headers.traceparent = event.traceparent;
  return headers;
}

/** An error that retrying cannot fix: the message goes straight to the dead-letter subject. */
export class PermanentError extends Error {
  override name = 'PermanentError';
}

/**
 * One event type a consumer handles: built by `on(Contract, handler)`, which ties the handler's
 * payload type to the contract's schema, so handlers need no `any` and no casts.
 */
export interface EventRoute {
  readonly type: string;
  /** Validates the envelope against the contract; on success, a call that runs the handler. */
  bind(event: EventEnvelope): { run: (delivery: Delivery) => Promise<void> } | { error: string };
}

/** The handler for events of `def`: the payload type comes from the contract. */
export function on<T extends string, S extends z.ZodType>(
  def: EventDefinition<T, S>,
  handler: (event: TypedEnvelope<T, z.infer<S>>, delivery: Delivery) => Promise<void> | void,
): EventRoute {
  return {
    type: def.type,
    bind(event) {
      const parsed = def.envelope.safeParse(event);
      if (!parsed.success) return { error: `invalid ${def.type}: ${parsed.error.message}` };
      return { run: async (delivery) => handler(parsed.data, delivery) };
    },
  };
}

function routeTable(routes: readonly EventRoute[]): Map<string, EventRoute> {
  const table = new Map<string, EventRoute>();
  for (const r of routes) {
    if (table.has(r.type)) throw new Error(`two handlers for ${r.type}`);
    table.set(r.type, r);
  }
  return table;
}

const consumerAttrs = (spec: ConsumerSpec) => ({
  'messaging.consumer.group.name': spec.durable,
  'messaging.destination.name': spec.filterSubject,
});
const redeliveries = lazy(() =>
  meter().createCounter('chartwright.consumer.redeliveries', {
    description: 'Messages delivered again to a consumer (a failure, a crash or an ack wait before)',
  }),
);
const deadLetters = lazy(() =>
  meter().createCounter('chartwright.consumer.dead_letters', {
    description: 'Messages a consumer gave up on and moved to its dead-letter subject',
  }),
);
const processDuration = lazy(() =>
  meter().createHistogram('chartwright.consumer.process.duration', {
    unit: 's',
    description: 'Time a consumer spends on one delivery, by outcome',
  }),
);
/** The consumers running in this process, whose backlog `/metrics` reports. */
const runningConsumers = new Set<{ bus: MessageBus; spec: ConsumerSpec }>();
const pendingGauge = lazy(() => {
  const gauge = meter().createObservableGauge('chartwright.consumer.pending', {
    description: 'Messages waiting for a consumer or delivered and not yet acknowledged (its lag)',
  });
  gauge.addCallback(async (result) => {
    await Promise.all(
      [...runningConsumers].map(async ({ bus, spec }) => {
        const pending = await bus.consumerPending?.(spec).catch(() => undefined);
        if (pending !== undefined) result.observe(pending, consumerAttrs(spec));
      }),
    );
  });
  return gauge;
});

/** Extra deliveries, beyond a consumer's tries, in which a message is only dead-lettered. */
const DEAD_LETTER_TRIES = 5;
/** How long one delivery is retried in place while the database is unavailable, and how often. */
const OUTAGE_RETRY_MS = 30_000;
const OUTAGE_RETRY_STEP_MS = 1_000;

/**
 * Consumes events with validation, retries and a dead-letter path:
 * - unreadable or invalid messages, and `PermanentError`s, are dead-lettered at once;
 * - other failures are retried with backoff, then dead-lettered after `maxDeliver` tries;
 * - a lost database is retried in place for a while, then the message is nak'ed for later;
 * - types without a handler are acknowledged and skipped.
 * A bad message never blocks the ones behind it, and none is dropped without a dead letter.
 */
export async function consumeEvents(
  bus: MessageBus,
  spec: ConsumerSpec,
  routes: readonly EventRoute[],
  logger: Logger,
): Promise<Subscription> {
  const table = routeTable(routes);
  const maxDeliver = spec.maxDeliver ?? DEFAULT_MAX_DELIVER;
  const attrs = consumerAttrs(spec);
  // Reported as 0 from the start: alerts on their increase need the series to exist.
  deadLetters().add(0, attrs);
  redeliveries().add(0, attrs);
  const deadLetter = async (d: Delivery, reason: string, err?: unknown) => {
    deadLetters().add(1, attrs);
    logger.error(
      {
        err,
        subject: d.subject,
        seq: d.streamSeq,
        deliveries: d.deliveryCount,
        consumer: spec.durable,
        reason,
      },
      'dead-lettering message',
    );
    try {
      await bus.publish(dlqSubject(spec.stream, spec.durable), d.data, {
        msgId: `dlq-${spec.stream}-${spec.durable}-${d.streamSeq}`,
        headers: {
          ...Object.fromEntries(Object.entries(d.headers).filter(([k]) => !k.startsWith('Nats-'))),
          // Header values are single lines on the wire.
          'Dlq-Reason': reason.replace(/\s+/g, ' ').slice(0, 500),
          'Dlq-Subject': d.subject,
          'Dlq-Consumer': spec.durable,
          'Dlq-Stream-Seq': String(d.streamSeq),
        },
      });
      d.term();
    } catch (pubErr) {
      logger.error({ err: pubErr }, 'could not dead-letter; will retry');
      d.nak(backoffFor(spec, d.deliveryCount));
    }
  };

  // The bus may deliver a few times more than the handler runs: a last try that died unsettled
  // (crash, ack wait) or whose dead-lettering failed comes back once more, to be dead-lettered
  // instead of silently dropped by the server.
  const stopping = new AbortController();
  const sub = await bus.consume({ ...spec, maxDeliver: maxDeliver + DEAD_LETTER_TRIES }, async (d) => {
    if (d.deliveryCount > 1) redeliveries().add(1, attrs);
    if (d.deliveryCount > maxDeliver)
      return deadLetter(d, `its last of ${maxDeliver} tries ended without an answer (crash or ack wait)`);
    let event: EventEnvelope;
    try {
      event = EventEnvelope.parse(JSON.parse(decoder.decode(d.data)));
    } catch (err) {
      return deadLetter(d, 'not a valid event envelope', err);
    }
    const route = table.get(event.type);
    if (!route) return d.ack();
    const bound = route.bind(event);
    if ('error' in bound) return deadLetter(d, bound.error);
    // The publish span (the message's header), else the trace the event was made in.
    const parent = extractTraceContext(
      d.headers.traceparent
        ? { traceparent: d.headers.traceparent, tracestate: d.headers.tracestate }
        : { traceparent: event.traceparent, tracestate: event.tracestate },
    );
    const run = () =>
      withSpan(
        `process ${event.type}`,
        SpanKind.CONSUMER,
        {
          'messaging.system': 'nats',
          'messaging.operation.type': 'process',
          'messaging.destination.name': d.subject,
          'messaging.message.id': event.id,
          'messaging.consumer.group.name': spec.durable,
          'messaging.message.delivery_count': d.deliveryCount,
        },
        () => bound.run(d),
        parent,
      );
    const since = Date.now();
    for (;;) {
      const start = performance.now();
      try {
        await run();
        processDuration().record(secondsSince(start), { ...attrs, outcome: 'ok' });
        d.ack();
        return;
      } catch (err) {
        processDuration().record(secondsSince(start), { ...attrs, outcome: 'error' });
        if (err instanceof PermanentError) return deadLetter(d, err.message, err);
        if (isDatabaseUnavailable(err)) {
          // The database is away (a restart, a failover, a session ended): this is no fault of
          // the message, so it does not spend its tries. It is tried again here while the
          // outage lasts (handlers apply an event once, so a repeat is harmless), then handed
          // back for redelivery; a stop hands it back at once.
          if (!stopping.signal.aborted && Date.now() - since < OUTAGE_RETRY_MS) {
            if (Date.now() - since < OUTAGE_RETRY_STEP_MS)
              logger.warn(
                { err, type: event.type, id: event.id },
                'database unavailable; retrying the event',
              );
            d.working();
            await sleep(OUTAGE_RETRY_STEP_MS, stopping.signal);
            continue;
          }
          d.nak(backoffFor(spec, d.deliveryCount));
          return;
        }
        if (d.deliveryCount >= maxDeliver)
          return deadLetter(d, `failed ${d.deliveryCount} times: ${(err as Error).message}`, err);
        logger.warn(
          { err, type: event.type, id: event.id, deliveries: d.deliveryCount },
          'event handler failed; retrying',
        );
        d.nak(backoffFor(spec, d.deliveryCount));
        return;
      }
    }
  });
  const running = { bus, spec };
  pendingGauge();
  runningConsumers.add(running);
  return {
    stop: async () => {
      runningConsumers.delete(running);
      stopping.abort();
      await sub.stop();
    },
  };
}

/**
 * Hands this process every event of `spec` from now on (every replica sees every event: not a
 * queue group, nothing acknowledged), for live views such as waiting for an analysis. Missed
 * events are possible (a reconnect): `onGap` is then called, and the watcher re-reads what it
 * waits for. Invalid events and handler failures are logged and skipped.
 */
export async function watchEvents(
  bus: MessageBus,
  spec: WatchSpec,
  routes: readonly EventRoute[],
  logger: Logger,
): Promise<Subscription> {
  const table = routeTable(routes);
  const noop: Delivery = {
    subject: '',
    data: new Uint8Array(),
    headers: {},
    deliveryCount: 1,
    streamSeq: 0,
    ack() {},
    nak() {},
    term() {},
    working() {},
  };
  return bus.watch(spec, async (m) => {
    let event: EventEnvelope;
    try {
      event = EventEnvelope.parse(JSON.parse(decoder.decode(m.data)));
    } catch (err) {
      logger.warn({ err, subject: m.subject }, 'watched message is not an event; skipped');
      return;
    }
    const route = table.get(event.type);
    if (!route) return;
    const bound = route.bind(event);
    if ('error' in bound) {
      logger.warn({ subject: m.subject, reason: bound.error }, 'invalid watched event; skipped');
      return;
    }
    try {
      await bound.run({
        ...noop,
        subject: m.subject,
        data: m.data,
        headers: m.headers,
        streamSeq: m.streamSeq,
      });
    } catch (err) {
      logger.error({ err, type: event.type }, 'event watcher failed');
    }
  });
}

export { trace };
