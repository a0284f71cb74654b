import type { ErrorCode, RpcDefinition, RpcError, ServiceName } from '@chartwright/contracts';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { BusError, type Headers, type MessageBus, type Subscription } from './bus/types.js';
import { databaseUnavailable, isDatabaseUnavailable } from './db/faults.js';
import { lazy, meter, secondsSince } from './metrics.js';
import { extractTraceContext, injectTraceHeaders, SpanKind, withSpan } from './telemetry.js';

/** Request/reply latency as the caller sees it, by subject and outcome (`ok` or the error code). */
const rpcDuration = lazy(() =>
  meter().createHistogram('chartwright.rpc.client.duration', {
    unit: 's',
    description: 'Duration of NATS request/reply calls, by subject and outcome',
  }),
);

/** What a caller is told to wait before retrying when the bus or the service is away. */
const BUS_RETRY_AFTER_SECONDS = 2;

/** An expected failure a handler reports to its caller (not a crash). */
export class ServiceError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ServiceError';
  }
  toJSON(): RpcError {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/** The header naming the user a request acts for, as the gateway authenticated them. */
export const USER_HEADER = 'Cw-User';

/**
 * Serves `def` in queue group `queue`, validating requests. On a locked-down bus (one with an
 * identity) it answers only `<subject>.<sender>` for the senders `def` allows, so NATS
 * permissions decide who may ask, and `sender` tells the handler who did; on an open bus also
 * the plain subject (development, tests, tools), with `sender` undefined.
 */
export async function serveRpc<Req extends z.ZodType, Res extends z.ZodType>(
  bus: MessageBus,
  def: RpcDefinition<Req, Res>,
  queue: string,
  logger: Logger,
  handler: (
    req: z.infer<Req>,
    headers: Headers,
    signal: AbortSignal,
    sender?: ServiceName,
  ) => Promise<z.input<Res>>,
): Promise<Subscription> {
  const serveAs = (subject: string, sender?: ServiceName) =>
    bus.serve(subject, queue, async (payload, headers, signal) => {
      const parsed = def.request.safeParse(payload);
      if (!parsed.success) {
        return {
          ok: false,
          error: { code: 'VALIDATION_ERROR', message: 'invalid request', details: parsed.error.issues },
        };
      }
      // The user named in the body is the one the caller was asked to act for.
      const userId = (parsed.data as { userId?: unknown }).userId;
      if (headers[USER_HEADER] !== undefined && userId !== undefined && headers[USER_HEADER] !== userId) {
        return {
          ok: false,
          error: { code: 'FORBIDDEN', message: 'request names another user than its caller' },
        };
      }
      return answer(parsed.data, headers, signal, sender);
    });
  const answer = async (req: z.infer<Req>, headers: Headers, signal: AbortSignal, sender?: ServiceName) => {
    try {
      const data = await withSpan(
        `process ${def.subject}`,
        SpanKind.SERVER,
        {
          'messaging.system': 'nats',
          'messaging.operation.type': 'process',
          'messaging.destination.name': def.subject,
          'rpc.method': def.subject,
        },
        () => handler(req, headers, signal, sender),
        extractTraceContext(headers),
      );
      return { ok: true, data };
    } catch (err) {
      if (err instanceof ServiceError) return { ok: false, error: err.toJSON() };
      if (isDatabaseUnavailable(err)) {
        logger.warn({ err, subject: def.subject }, 'database unavailable; answered 503');
        return { ok: false, error: databaseUnavailable().toJSON() };
      }
      logger.error({ err, subject: def.subject }, 'rpc handler failed');
      return { ok: false, error: { code: 'INTERNAL', message: 'internal error' } };
    }
  };
  const subs: Subscription[] = [];
  try {
    if (!bus.identity) subs.push(await serveAs(def.subject));
    for (const sender of def.senders) subs.push(await serveAs(`${def.subject}.${sender}`, sender));
  } catch (err) {
    await Promise.allSettled(subs.map((s) => s.stop()));
    throw err;
  }
  return { stop: async () => void (await Promise.allSettled(subs.map((s) => s.stop()))) };
}

/**
 * Calls `def` and returns its data; a failure reply throws `ServiceError` with its code. With
 * `signal`, an abort stops waiting for the reply (`SERVICE_UNAVAILABLE`); the request may still
 * be handled.
 */
export async function callRpc<Req extends z.ZodType, Res extends z.ZodType>(
  bus: MessageBus,
  def: RpcDefinition<Req, Res>,
  request: z.input<Req>,
  opts: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<z.infer<Res>> {
  const start = performance.now();
  let outcome = 'ok';
  try {
    return await withSpan(
      `send ${def.subject}`,
      SpanKind.CLIENT,
      {
        'messaging.system': 'nats',
        'messaging.operation.type': 'send',
        'messaging.destination.name': def.subject,
        'rpc.method': def.subject,
      },
      () => requestReply(bus, def, request, opts),
    );
  } catch (err) {
    outcome = err instanceof ServiceError ? err.code : 'INTERNAL';
    throw err;
  } finally {
    rpcDuration().record(secondsSince(start), { 'rpc.method': def.subject, outcome });
  }
}

async function requestReply<Req extends z.ZodType, Res extends z.ZodType>(
  bus: MessageBus,
  def: RpcDefinition<Req, Res>,
  request: z.input<Req>,
  opts: { timeoutMs?: number; signal?: AbortSignal },
): Promise<z.infer<Res>> {
  let raw: unknown;
  const unavailable = (message: string) =>
    new ServiceError('SERVICE_UNAVAILABLE', message, { retryAfterSeconds: BUS_RETRY_AFTER_SECONDS });
  const headers = injectTraceHeaders();
  const userId = (request as { userId?: unknown } | undefined)?.userId;
  if (typeof userId === 'string') headers[USER_HEADER] = userId;
  try {
    const sent = bus.request(bus.identity ? `${def.subject}.${bus.identity}` : def.subject, request, {
      timeoutMs: opts.timeoutMs,
      headers,
    });
    raw = opts.signal ? await abortable(sent, opts.signal) : await sent;
  } catch (err) {
    if (err instanceof BusError && err.code === 'DISCONNECTED')
      throw unavailable('the message bus is unavailable; try again shortly');
    if (err instanceof BusError && (err.code === 'NO_RESPONDERS' || err.code === 'CLOSED'))
      throw unavailable(`${def.subject} is unavailable`);
    if (err instanceof BusError && err.code === 'TIMEOUT')
      throw new ServiceError('TIMEOUT', `${def.subject} did not answer in time`);
    throw err;
  }
  const reply = def.reply.safeParse(raw);
  if (!reply.success) throw new ServiceError('INTERNAL', `malformed reply from ${def.subject}`);
  const r = reply.data as { ok: true; data: z.infer<Res> } | { ok: false; error: RpcError };
  if (!r.ok) throw new ServiceError(r.error.code, r.error.message, r.error.details);
  return r.data;
}

function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  p.catch(() => undefined);
  if (signal.aborted) return Promise.reject(new BusError('CLOSED', 'stopped waiting: shutting down'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new BusError('CLOSED', 'stopped waiting: shutting down'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** One request/reply contract and the use case that answers it: a row of a service's handler table. */
export interface RpcRoute {
  readonly subject: string;
  serve(bus: MessageBus, queue: string, logger: Logger): Promise<Subscription>;
}

/**
 * A row of a handler table: `handle(ChartGet, (req) => charts.get(req.userId, req.chartId))`.
 * `signal` aborts when the service stops while the request is in hand.
 */
export function handle<Req extends z.ZodType, Res extends z.ZodType>(
  def: RpcDefinition<Req, Res>,
  handler: (
    req: z.infer<Req>,
    headers: Headers,
    signal: AbortSignal,
    sender?: ServiceName,
  ) => Promise<z.input<Res>>,
): RpcRoute {
  return {
    subject: def.subject,
    serve: (bus, queue, logger) => serveRpc(bus, def, queue, logger, handler),
  };
}
