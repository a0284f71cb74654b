import { STREAMS } from '@chartwright/contracts';
import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import {
  connect,
  credsAuthenticator,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  nanos,
  headers as natsHeaders,
  nkeyAuthenticator,
  RequestError,
  TimeoutError,
  usernamePasswordAuthenticator,
} from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { NatsAuth } from '../config.js';
import { sleep } from '../sleep.js';
import {
  BusError,
  type ConsumerSpec,
  DEFAULT_ACK_WAIT_MS,
  DEFAULT_MAX_DELIVER,
  type Delivery,
  type Headers,
  Limiter,
  type MessageBus,
  type PublishOptions,
  type PublishResult,
  type RawHandler,
  type RpcHandler,
  type Subscription,
  subjectMatches,
  type WatchedMessage,
  type WatchSpec,
} from './types.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** How long one pull waits for messages before the next is made. */
const FETCH_EXPIRES_MS = 30_000;

export interface JetStreamBusOptions {
  servers: string | string[];
  name: string;
  logger: Logger;
  /** Prefix for stream names, so tests can isolate themselves on a shared server. */
  streamPrefix?: string;
  /** Window in which a repeated `Nats-Msg-Id` is dropped. */
  duplicateWindowMs?: number;
  /**
   * This service's credentials on a locked-down NATS. With them, `name` is its identity: requests
   * go out on `<subject>.<name>` and replies come to `_INBOX.<name>.…`, as its permissions allow.
   */
  auth?: NatsAuth;
}

function authOptions(auth: NatsAuth | undefined, name: string) {
  if (!auth) return {};
  const authenticator =
    auth.kind === 'password'
      ? usernamePasswordAuthenticator(auth.user, auth.pass)
      : auth.kind === 'creds'
        ? credsAuthenticator(auth.creds)
        : nkeyAuthenticator(auth.seed);
  return { authenticator, inboxPrefix: `_INBOX.${name}` };
}

const toHeaderMap = (h: MsgHdrs | undefined): Headers => {
  const out: Headers = {};
  if (!h) return out;
  for (const [k, v] of h) if (v[0] !== undefined) out[k] = v[0];
  return out;
};

const fromHeaderMap = (h: Headers | undefined): MsgHdrs | undefined => {
  if (!h || Object.keys(h).length === 0) return undefined;
  const out = natsHeaders();
  for (const [k, v] of Object.entries(h)) out.set(k, v);
  return out;
};

export class JetStreamBus implements MessageBus {
  readonly kind = 'jetstream' as const;
  /** False from a disconnect until the client has reconnected. */
  private connected = true;
  /** Requests waiting for a reply: failed at once when the connection drops. */
  private readonly pending = new Set<(err: BusError) => void>();

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly opts: JetStreamBusOptions,
  ) {
    void this.watchConnection();
  }

  /**
   * A request sent on a connection that dropped is lost (its reply would come on the old one),
   * yet the client keeps it until its timeout. The caller is told at once instead, and requests
   * made before the client has reconnected fail at once too, so nobody waits out a timeout for
   * an answer that cannot come.
   */
  private async watchConnection(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect') {
        this.connected = false;
        this.opts.logger.warn({ server: s.server }, 'NATS connection lost; reconnecting');
        const err = new BusError('DISCONNECTED', 'the connection to NATS was lost');
        for (const fail of [...this.pending]) fail(err);
      } else if (s.type === 'reconnect') {
        this.connected = true;
        this.opts.logger.info({ server: s.server }, 'NATS connection restored');
      }
    }
  }

  /** Whether the connection to the server is up. */
  isConnected(): boolean {
    return this.connected && !this.nc.isClosed();
  }

  static async connect(opts: JetStreamBusOptions): Promise<JetStreamBus> {
    const nc = await connect({
      servers: opts.servers,
      name: opts.name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1_000,
      // Otherwise every request and publish builds an Error for its stack, costly on a hot path.
      noAsyncTraces: true,
      ...authOptions(opts.auth, opts.name),
    });
    const jsm = await jetstreamManager(nc);
    return new JetStreamBus(nc, jetstream(nc), jsm, opts);
  }

  get identity(): string | undefined {
    return this.opts.auth ? this.opts.name : undefined;
  }

  /**
   * On a locked-down NATS the services do not create streams (only the provisioning user may):
   * each one is checked to exist, with a message saying how to provision it when it does not.
   */
  async checkStreams(): Promise<void> {
    const missing: string[] = [];
    for (const key of Object.keys(STREAMS) as (keyof typeof STREAMS)[]) {
      const name = this.streamName(key);
      try {
        await this.jsm.streams.info(name);
      } catch (err) {
        if (!isNotFound(err)) throw err;
        missing.push(name);
      }
    }
    if (missing.length)
      throw new Error(
        `NATS_URL: JetStream streams ${missing.join(', ')} do not exist; provision them first (see README, "NATS permissions")`,
      );
  }

  streamName(stream: keyof typeof STREAMS): string {
    return `${this.opts.streamPrefix ?? ''}${STREAMS[stream].name}`;
  }

  /** Subjects are prefixed the same way as stream names, lower-cased, when isolating tests. */
  subject(subject: string): string {
    const p = this.opts.streamPrefix;
    return p ? `${p.toLowerCase()}${subject}` : subject;
  }

  private unprefix(subject: string): string {
    const p = this.opts.streamPrefix?.toLowerCase();
    return p && subject.startsWith(p) ? subject.slice(p.length) : subject;
  }

  async ensureStreams(): Promise<void> {
    for (const key of Object.keys(STREAMS) as (keyof typeof STREAMS)[]) {
      const name = this.streamName(key);
      const config = {
        name,
        subjects: STREAMS[key].subjects.map((s) => this.subject(s)),
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        max_age: nanos(key === 'DLQ' ? 30 * 86_400_000 : 7 * 86_400_000),
        duplicate_window: nanos(this.opts.duplicateWindowMs ?? 10 * 60_000),
        num_replicas: 1,
      };
      try {
        await this.jsm.streams.info(name);
        await this.jsm.streams.update(name, config);
      } catch (err) {
        if (!isNotFound(err)) throw err;
        await this.jsm.streams.add(config);
      }
    }
  }

  async publish(subject: string, data: Uint8Array, opts: PublishOptions): Promise<PublishResult> {
    const ack = await this.js.publish(this.subject(subject), data, {
      msgID: opts.msgId,
      headers: fromHeaderMap(opts.headers),
    });
    return { seq: ack.seq, duplicate: ack.duplicate };
  }

  async consume(spec: ConsumerSpec, handler: RawHandler): Promise<Subscription> {
    const stream = this.streamName(spec.stream);
    const config = {
      durable_name: spec.durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: this.subject(spec.filterSubject),
      max_deliver: spec.maxDeliver ?? DEFAULT_MAX_DELIVER,
      ack_wait: nanos(spec.ackWaitMs ?? DEFAULT_ACK_WAIT_MS),
      max_ack_pending: Math.max(100, (spec.concurrency ?? 1) * 10),
    };
    try {
      await this.jsm.consumers.info(stream, spec.durable);
      await this.jsm.consumers.update(stream, spec.durable, config);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await this.jsm.consumers.add(stream, config);
    }
    const consumer = await this.js.consumers.get(stream, spec.durable);
    const limiter = new Limiter(spec.concurrency ?? 1);
    const log = this.opts.logger;
    const run = (m: JsMsg) =>
      limiter.run(async () => {
        try {
          await handler(this.toDelivery(m));
        } catch (err) {
          // A handler must settle its delivery; if it throws anyway, retry later.
          log.error({ err, subject: m.subject }, 'unhandled error in consumer; nak');
          m.nak(1_000);
        }
      });
    if (!spec.longJobs) {
      const messages = await consumer.consume({ max_messages: Math.max(spec.concurrency ?? 1, 1) });
      const loop = (async () => {
        for await (const m of messages) await run(m);
        await limiter.idle();
      })();
      return {
        stop: async () => {
          await messages.close();
          await loop;
        },
      };
    }
    let stopped = false;
    let batch: ConsumerMessages | undefined;
    // Pulls only as many messages as there are free slots.
    const loop = (async () => {
      while (!stopped) {
        const free = await limiter.free();
        if (stopped) break;
        try {
          batch = await consumer.fetch({ max_messages: free, expires: FETCH_EXPIRES_MS });
          // Stopped while the pull was being made. (stop(), not close(): close() waits for this
          // loop to finish iterating, which it would not.)
          if (stopped) batch.stop();
          for await (const m of batch) await run(m);
        } catch (err) {
          if (stopped) break;
          log.warn({ err, durable: spec.durable }, 'pull failed; retrying');
          await new Promise((r) => setTimeout(r, 1_000));
        } finally {
          batch = undefined;
        }
      }
      await limiter.idle();
    })();
    return {
      stop: async () => {
        stopped = true;
        batch?.stop();
        await loop;
      },
    };
  }

  async watch(spec: WatchSpec, handler: (m: WatchedMessage) => Promise<void> | void): Promise<Subscription> {
    const log = this.opts.logger;
    const gap = () => {
      try {
        spec.onGap?.();
      } catch (err) {
        log.error({ err }, 'watch gap handler failed');
      }
    };
    // An ordered consumer: ephemeral, flow-controlled, recreated by the client from the last
    // sequence it saw whenever it stalls (a reconnect). If the client gives up on it (a server
    // restart can take the consumer and its stream state away for a while), a new one is made
    // here, from then on, and the watcher is told of the gap.
    const open = async () => {
      const consumer = await this.js.consumers.get(this.streamName(spec.stream), {
        filter_subjects: this.subject(spec.filterSubject),
        deliver_policy: DeliverPolicy.New,
      });
      return consumer.consume();
    };
    let messages = await open();
    let stopped = false;
    const stopping = new AbortController();
    const drain = async (current: typeof messages) => {
      const status = (async () => {
        for await (const s of current.status()) {
          if (s.type === 'ordered_consumer_recreated' || s.type === 'heartbeats_missed') gap();
        }
      })().catch(() => undefined);
      try {
        for await (const m of current) {
          const subject = this.unprefix(m.subject);
          // Filtered here as well: a server before 2.10 may not apply the consumer's filter.
          if (!subjectMatches(spec.filterSubject, subject)) continue;
          try {
            await handler({
              subject,
              data: m.data,
              headers: toHeaderMap(m.headers),
              streamSeq: m.seq,
            });
          } catch (err) {
            log.error({ err, subject: m.subject }, 'watch handler failed');
          }
        }
      } catch (err) {
        if (!stopped) log.warn({ err, stream: spec.stream }, 'watch consumer ended; making a new one');
      }
      void status;
    };
    const loop = (async () => {
      for (;;) {
        await drain(messages);
        if (stopped) return;
        // Bounded by the stop: one attempt a second until the server has the stream again.
        for (;;) {
          await sleep(1_000, stopping.signal);
          if (stopped) return;
          try {
            messages = await open();
            break;
          } catch (err) {
            log.warn({ err, stream: spec.stream }, 'watch consumer not made yet; trying again');
          }
        }
        gap();
      }
    })();
    // After a reconnect the server may have lost the consumer (a restart), and the client's own
    // recovery of it is not always prompt: start afresh (the loop above makes a new one and
    // reports the gap, so watchers re-read what they wait for).
    const connectionStatus = (async () => {
      for await (const s of this.nc.status()) {
        if (stopped) break;
        if (s.type === 'reconnect') await messages.close().catch(() => undefined);
      }
    })();
    return {
      stop: async () => {
        stopped = true;
        stopping.abort();
        await messages.close();
        await loop;
        // The connection status iterator ends with the connection or on its next event.
        void connectionStatus.catch(() => undefined);
      },
    };
  }

  private toDelivery(m: JsMsg): Delivery {
    return {
      subject: this.unprefix(m.subject),
      data: m.data,
      headers: toHeaderMap(m.headers),
      deliveryCount: m.info.deliveryCount,
      streamSeq: m.seq,
      ack: () => m.ack(),
      nak: (delayMs?: number) => m.nak(delayMs),
      term: () => m.term(),
      working: () => m.working(),
    };
  }

  async serve(subject: string, queue: string, handler: RpcHandler): Promise<Subscription> {
    const log = this.opts.logger;
    const sub = this.nc.subscribe(this.subject(subject), { queue });
    const stopping = new AbortController();
    // Handlers still running: a stop waits for them to answer before NATS and the database close.
    const running = new Set<Promise<void>>();
    const answer = async (msg: Msg) => {
      let reply: unknown;
      try {
        const payload = msg.data.length ? JSON.parse(decoder.decode(msg.data)) : undefined;
        reply = await handler(payload, toHeaderMap(msg.headers), stopping.signal);
      } catch (err) {
        log.error({ err, subject }, 'rpc handler failed');
        reply = { ok: false, error: { code: 'INTERNAL', message: 'internal error' } };
      }
      if (!msg.reply) return;
      try {
        msg.respond(encoder.encode(JSON.stringify(reply ?? null)));
      } catch (err) {
        log.warn({ err, subject }, 'rpc reply not sent');
      }
    };
    const loop = (async () => {
      for await (const msg of sub) {
        // Requests are independent; handle them concurrently.
        const p = answer(msg);
        running.add(p);
        void p.finally(() => running.delete(p));
      }
    })();
    // Once serve() returns, the server knows the subscription: a request sent right after finds
    // it (else a caller could see "no responders" from a service that is up).
    if (this.isConnected()) await this.nc.flush().catch(() => undefined);
    return {
      stop: async () => {
        // No new requests (the server sends them to other members of the queue group); the
        // ones already received are handled. Waiting handlers are told to answer now.
        if (this.isConnected()) await sub.drain().catch(() => sub.unsubscribe());
        else if (!this.nc.isClosed()) sub.unsubscribe();
        stopping.abort();
        await loop;
        await Promise.allSettled([...running]);
      },
    };
  }

  async request(
    subject: string,
    payload: unknown,
    opts: { timeoutMs?: number; headers?: Headers } = {},
  ): Promise<unknown> {
    if (this.nc.isClosed()) throw new BusError('CLOSED', 'the bus is closed');
    if (!this.connected) throw new BusError('DISCONNECTED', 'not connected to NATS');
    let fail!: (err: BusError) => void;
    const dropped = new Promise<never>((_, reject) => {
      fail = reject;
    });
    this.pending.add(fail);
    const sent = this.nc.request(this.subject(subject), encoder.encode(JSON.stringify(payload)), {
      timeout: opts.timeoutMs ?? 10_000,
      headers: fromHeaderMap(opts.headers),
    });
    // Given up on at a disconnect, the request still ends (with its timeout) later.
    sent.catch(() => undefined);
    try {
      const msg = await Promise.race([sent, dropped]);
      return JSON.parse(decoder.decode(msg.data));
    } catch (err) {
      if (err instanceof BusError) throw err;
      if (err instanceof RequestError && err.isNoResponders())
        throw new BusError('NO_RESPONDERS', `no service answers ${subject}`);
      if (err instanceof TimeoutError || (err instanceof RequestError && err.cause instanceof TimeoutError))
        throw new BusError('TIMEOUT', `no answer from ${subject} in time`);
      if (err instanceof SyntaxError) throw new BusError('BAD_REPLY', `unreadable reply from ${subject}`);
      if (this.nc.isClosed()) throw new BusError('CLOSED', 'the bus is closed');
      throw err;
    } finally {
      this.pending.delete(fail);
    }
  }

  /** Drops and re-opens the connection (tests: what a network blip does). */
  async reconnect(): Promise<void> {
    await this.nc.reconnect();
  }

  async consumerPending(spec: ConsumerSpec): Promise<number> {
    const info = await this.jsm.consumers.info(this.streamName(spec.stream), spec.durable);
    return info.num_pending + info.num_ack_pending;
  }

  async ping(): Promise<void> {
    await this.nc.flush();
    await this.jsm.getAccountInfo();
  }

  /** How many messages a stream holds (the DLQ's should be 0). */
  async messagesIn(stream: keyof typeof STREAMS): Promise<number> {
    return (await this.jsm.streams.info(this.streamName(stream))).state.messages;
  }

  /** Deletes this bus's streams (tests with a prefix clean up after themselves). */
  async deleteStreams(): Promise<void> {
    for (const key of Object.keys(STREAMS) as (keyof typeof STREAMS)[]) {
      await this.jsm.streams.delete(this.streamName(key)).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    // Draining needs the server; without one there is nothing left to flush.
    if (!this.connected) return this.nc.close();
    await this.nc.drain();
  }
}

function isNotFound(err: unknown): boolean {
  const e = err as { code?: unknown; api_error?: { err_code?: number }; message?: string };
  return (
    e?.api_error?.err_code === 10059 ||
    e?.api_error?.err_code === 10014 ||
    /not found/i.test(String(e?.message ?? ''))
  );
}
