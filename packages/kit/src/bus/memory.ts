import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { STREAMS, type StreamName, streamForSubject } from '@chartwright/contracts';
import type { Logger } from 'pino';
import {
  BusError,
  type ConsumerSpec,
  DEFAULT_ACK_WAIT_MS,
  DEFAULT_MAX_DELIVER,
  type Headers,
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

interface Stored {
  seq: number;
  subject: string;
  data: Uint8Array;
  headers: Headers;
}

/** How often a bus with a state path is trimmed and saved. */
const SAVE_EVERY_MS = 2_000;

interface SavedState {
  seq: number;
  streams: Record<
    string,
    { messages: (Omit<Stored, 'data'> & { data: string })[]; seen: [string, { seq: number; at: number }][] }
  >;
  consumers: {
    key: string;
    spec: ConsumerSpec;
    cursor: number;
    ready: number[];
    deliveries: [number, number][];
    done: number[];
  }[];
}

interface StreamState {
  messages: Stored[];
  /** msgId → time it was first seen, for de-duplication within the window. */
  seen: Map<string, { seq: number; at: number }>;
}

interface ConsumerState {
  spec: ConsumerSpec;
  /** Next stream position not yet handed to this consumer. */
  cursor: number;
  ready: number[];
  deliveries: Map<number, number>;
  inFlight: Set<number>;
  done: Set<number>;
  timers: Set<NodeJS.Timeout>;
  /** Like replicas on one JetStream durable: each takes messages up to its own concurrency. */
  subscribers: Subscriber[];
  /** Round-robin position among the subscribers. */
  turn: number;
}

interface Subscriber {
  handler: RawHandler;
  concurrency: number;
  active: number;
  stopping: boolean;
  settled?: () => void;
}

/**
 * An in-process bus with JetStream's contract: durable consumers that survive a re-subscribe,
 * explicit ack, nak with delay, ack-wait redelivery, max deliveries, de-duplication by message
 * id, and request/reply with queue groups. With `statePath` (the embedded product) the messages
 * not yet settled and the consumers' positions are saved every couple of seconds and on close, and
 * read back on start, so a restart loses no events (a crash, at most the last seconds'); settled
 * ones are let go. Without it (tests) messages live as long as the process.
 */
export class MemoryBus implements MessageBus {
  readonly kind = 'memory' as const;
  private readonly streams = new Map<StreamName, StreamState>();
  private readonly consumers = new Map<string, ConsumerState>();
  private readonly services = new Map<
    string,
    { queue: string; handler: (payload: unknown, headers: Headers) => Promise<unknown> }[]
  >();
  private readonly rr = new Map<string, number>();
  private readonly watchers = new Set<{
    stream: StreamName;
    filter: string;
    handler: (m: WatchedMessage) => Promise<void> | void;
  }>();
  private seq = 0;
  private closed = false;
  private dirty = false;
  private readonly saver?: NodeJS.Timeout;

  constructor(
    private readonly logger?: Logger,
    private readonly duplicateWindowMs = 10 * 60_000,
    private readonly statePath?: string,
  ) {
    for (const key of Object.keys(STREAMS) as StreamName[]) {
      this.streams.set(key, { messages: [], seen: new Map() });
    }
    if (statePath) {
      this.restore(statePath);
      this.saver = setInterval(() => this.dirty && this.save(), SAVE_EVERY_MS);
      this.saver.unref();
    }
  }

  /**
   * Lets go of messages every consumer of their stream has settled (a stream nobody consumes
   * keeps its messages for the first durable to come), and of expired de-duplication ids.
   */
  private trim(): void {
    const now = Date.now();
    for (const [name, stream] of this.streams) {
      for (const [id, s] of stream.seen) if (now - s.at >= this.duplicateWindowMs) stream.seen.delete(id);
      const readers = [...this.consumers.values()].filter((c) => c.spec.stream === name);
      if (readers.length === 0) continue;
      // Settled for a consumer: handed to it and done, or not for it (another subject).
      const settled = (c: ConsumerState, k: number) => {
        const m = stream.messages[k]!;
        return k < c.cursor && (c.done.has(m.seq) || !subjectMatches(c.spec.filterSubject, m.subject));
      };
      let k = 0;
      while (k < stream.messages.length && readers.every((c) => settled(c, k))) k++;
      if (k === 0) continue;
      for (const m of stream.messages.splice(0, k)) {
        for (const c of readers) {
          c.done.delete(m.seq);
          c.deliveries.delete(m.seq);
        }
      }
      for (const c of readers) c.cursor -= k;
    }
  }

  private save(): void {
    if (!this.statePath) return;
    this.trim();
    this.dirty = false;
    const state: SavedState = {
      seq: this.seq,
      streams: Object.fromEntries(
        [...this.streams].map(([name, s]) => [
          name,
          {
            messages: s.messages.map((m) => ({ ...m, data: Buffer.from(m.data).toString('base64') })),
            seen: [...s.seen],
          },
        ]),
      ),
      consumers: [...this.consumers].map(([key, c]) => ({
        key,
        spec: c.spec,
        cursor: c.cursor,
        // Every message handed to it and not settled (waiting, in hand, or waiting out a nak
        // delay) is delivered again after a restart.
        ready: this.streams
          .get(c.spec.stream)!
          .messages.slice(0, c.cursor)
          .filter((m) => !c.done.has(m.seq) && subjectMatches(c.spec.filterSubject, m.subject))
          .map((m) => m.seq),
        deliveries: [...c.deliveries],
        done: [...c.done],
      })),
    };
    try {
      const tmp = `${this.statePath}.tmp`;
      writeFileSync(tmp, JSON.stringify(state));
      renameSync(tmp, this.statePath);
    } catch (err) {
      this.dirty = true;
      this.logger?.error({ err, path: this.statePath }, 'bus state not saved');
    }
  }

  private restore(path: string): void {
    let state: SavedState;
    try {
      state = JSON.parse(readFileSync(path, 'utf8')) as SavedState;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        this.logger?.error({ err, path }, 'bus state unreadable; starting empty');
      return;
    }
    this.seq = state.seq;
    for (const [name, s] of Object.entries(state.streams)) {
      const stream = this.streams.get(name as StreamName);
      if (!stream) continue;
      stream.messages = s.messages.map((m) => ({
        ...m,
        data: new Uint8Array(Buffer.from(m.data, 'base64')),
      }));
      stream.seen = new Map(s.seen);
    }
    for (const c of state.consumers) {
      this.consumers.set(c.key, {
        spec: c.spec,
        cursor: c.cursor,
        ready: c.ready,
        deliveries: new Map(c.deliveries),
        inFlight: new Set(),
        done: new Set(c.done),
        timers: new Set(),
        subscribers: [],
        turn: 0,
      });
    }
  }

  async ensureStreams(): Promise<void> {}

  async publish(subject: string, data: Uint8Array, opts: PublishOptions): Promise<PublishResult> {
    if (this.closed) throw new BusError('CLOSED', 'bus closed');
    const name = streamForSubject(subject);
    const stream = this.streams.get(name)!;
    const now = Date.now();
    const prior = stream.seen.get(opts.msgId);
    if (prior && now - prior.at < this.duplicateWindowMs) return { seq: prior.seq, duplicate: true };
    const seq = ++this.seq;
    stream.messages.push({ seq, subject, data, headers: { ...(opts.headers ?? {}) } });
    stream.seen.set(opts.msgId, { seq, at: now });
    this.dirty = true;
    for (const c of this.consumers.values()) if (c.spec.stream === name) this.pump(c);
    for (const w of this.watchers) {
      if (w.stream !== name || !subjectMatches(w.filter, subject)) continue;
      const m = { subject, data, headers: { ...(opts.headers ?? {}) }, streamSeq: seq };
      // As over the network: after the publisher's await, never inside it.
      setImmediate(() => {
        Promise.resolve()
          .then(() => w.handler(m))
          .catch((err) => this.logger?.error({ err, subject }, 'watch handler failed'));
      });
    }
    return { seq, duplicate: false };
  }

  async consume(spec: ConsumerSpec, handler: RawHandler): Promise<Subscription> {
    const key = `${spec.stream}/${spec.durable}`;
    let state = this.consumers.get(key);
    if (!state) {
      state = {
        spec,
        cursor: 0,
        ready: [],
        deliveries: new Map(),
        inFlight: new Set(),
        done: new Set(),
        timers: new Set(),
        subscribers: [],
        turn: 0,
      };
      this.consumers.set(key, state);
    } else if (state.subscribers.length === 0) {
      // A durable resumes: what was in flight when it stopped is delivered again.
      state.spec = spec;
      for (const seq of state.inFlight) state.ready.push(seq);
      state.inFlight.clear();
    }
    const sub: Subscriber = { handler, concurrency: spec.concurrency ?? 1, active: 0, stopping: false };
    state.subscribers.push(sub);
    const s = state;
    this.pump(s);
    return {
      stop: async () => {
        sub.stopping = true;
        if (sub.active > 0) await new Promise<void>((resolve) => (sub.settled = resolve));
        s.subscribers = s.subscribers.filter((x) => x !== sub);
        // The others, if any, keep the durable's timers (redeliveries included).
        if (s.subscribers.length > 0) return this.pump(s);
        for (const t of s.timers) clearTimeout(t);
        s.timers.clear();
      },
    };
  }

  /** The next subscriber, in turn, with room for another message. */
  private nextSubscriber(c: ConsumerState): Subscriber | undefined {
    const n = c.subscribers.length;
    for (let i = 0; i < n; i++) {
      const sub = c.subscribers[(c.turn + i) % n]!;
      if (!sub.stopping && sub.active < sub.concurrency) {
        c.turn = (c.turn + i + 1) % n;
        return sub;
      }
    }
    return undefined;
  }

  private pump(c: ConsumerState): void {
    const stream = this.streams.get(c.spec.stream)!;
    while (c.cursor < stream.messages.length) {
      const m = stream.messages[c.cursor++]!;
      if (subjectMatches(c.spec.filterSubject, m.subject)) c.ready.push(m.seq);
    }
    while (c.ready.length > 0) {
      const sub = this.nextSubscriber(c);
      if (!sub) return;
      const seq = c.ready.shift()!;
      if (c.done.has(seq)) continue;
      const msg = stream.messages.find((m) => m.seq === seq);
      if (!msg) continue;
      this.deliver(c, sub, msg);
    }
  }

  private deliver(c: ConsumerState, sub: Subscriber, msg: Stored): void {
    const count = (c.deliveries.get(msg.seq) ?? 0) + 1;
    c.deliveries.set(msg.seq, count);
    c.inFlight.add(msg.seq);
    sub.active++;
    let settled = false;
    const ackWait = c.spec.ackWaitMs ?? DEFAULT_ACK_WAIT_MS;
    const maxDeliver = c.spec.maxDeliver ?? DEFAULT_MAX_DELIVER;
    let ackTimer: NodeJS.Timeout | undefined;
    const schedule = (delay: number, fn: () => void) => {
      const t = setTimeout(() => {
        c.timers.delete(t);
        fn();
      }, delay);
      t.unref?.();
      c.timers.add(t);
      return t;
    };
    const finish = (outcome: 'ack' | 'term' | { nak: number }) => {
      if (settled) return;
      settled = true;
      if (ackTimer) {
        clearTimeout(ackTimer);
        c.timers.delete(ackTimer);
      }
      c.inFlight.delete(msg.seq);
      if (outcome === 'ack' || outcome === 'term' || count >= maxDeliver) {
        c.done.add(msg.seq);
        this.dirty = true;
      } else {
        schedule(outcome.nak, () => {
          c.ready.push(msg.seq);
          this.pump(c);
        });
      }
    };
    const armAckWait = () => {
      if (ackTimer) {
        clearTimeout(ackTimer);
        c.timers.delete(ackTimer);
      }
      ackTimer = schedule(ackWait, () => finish({ nak: 0 }));
    };
    armAckWait();
    const handler = sub.handler;
    void Promise.resolve()
      .then(() =>
        handler({
          subject: msg.subject,
          data: msg.data,
          headers: { ...msg.headers },
          deliveryCount: count,
          streamSeq: msg.seq,
          ack: () => finish('ack'),
          nak: (delayMs = 0) => finish({ nak: delayMs }),
          term: () => finish('term'),
          working: () => {
            if (!settled) armAckWait();
          },
        }),
      )
      .catch((err) => {
        this.logger?.error({ err, subject: msg.subject }, 'unhandled error in consumer; nak');
        finish({ nak: 1_000 });
      })
      .finally(() => {
        sub.active--;
        if (sub.stopping && sub.active === 0) sub.settled?.();
        this.pump(c);
      });
  }

  /** In one process nothing is ever missed, so `onGap` is never called. */
  async watch(spec: WatchSpec, handler: (m: WatchedMessage) => Promise<void> | void): Promise<Subscription> {
    const w = { stream: spec.stream, filter: spec.filterSubject, handler };
    this.watchers.add(w);
    return {
      stop: async () => {
        this.watchers.delete(w);
      },
    };
  }

  async serve(subject: string, queue: string, handler: RpcHandler): Promise<Subscription> {
    const stopping = new AbortController();
    const running = new Set<Promise<unknown>>();
    // Like the JetStream adapter: a stop lets the requests in hand finish and answer.
    const tracked = (payload: unknown, headers: Headers) => {
      const p = handler(payload, headers, stopping.signal);
      running.add(p);
      const forget = () => running.delete(p);
      p.then(forget, forget);
      return p;
    };
    const entry = { queue, handler: tracked };
    const list = this.services.get(subject) ?? [];
    list.push(entry);
    this.services.set(subject, list);
    return {
      stop: async () => {
        const l = this.services.get(subject) ?? [];
        this.services.set(
          subject,
          l.filter((e) => e !== entry),
        );
        stopping.abort();
        await Promise.allSettled([...running]);
      },
    };
  }

  async request(
    subject: string,
    payload: unknown,
    opts: { timeoutMs?: number; headers?: Headers } = {},
  ): Promise<unknown> {
    if (this.closed) throw new BusError('CLOSED', 'bus closed');
    const list = this.services.get(subject) ?? [];
    if (list.length === 0) throw new BusError('NO_RESPONDERS', `no service answers ${subject}`);
    // One member of each queue group answers; like NATS, the first reply wins.
    const n = this.rr.get(subject) ?? 0;
    this.rr.set(subject, n + 1);
    const chosen = list[n % list.length]!;
    // Serialise like the wire would, so both adapters hand handlers plain JSON.
    const wire = JSON.parse(JSON.stringify(payload ?? null));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new BusError('TIMEOUT', `no answer from ${subject} in time`)),
        opts.timeoutMs ?? 10_000,
      );
    });
    try {
      const reply = await Promise.race([
        chosen.handler(wire, { ...(opts.headers ?? {}) }).catch((err) => {
          this.logger?.error({ err, subject }, 'rpc handler failed');
          return { ok: false, error: { code: 'INTERNAL', message: 'internal error' } };
        }),
        timeout,
      ]);
      return JSON.parse(JSON.stringify(reply ?? null));
    } finally {
      clearTimeout(timer);
    }
  }

  async consumerPending(spec: ConsumerSpec): Promise<number> {
    const c = this.consumers.get(`${spec.stream}/${spec.durable}`);
    if (!c) return 0;
    const stream = this.streams.get(c.spec.stream)!;
    let unread = 0;
    for (let k = c.cursor; k < stream.messages.length; k++)
      if (subjectMatches(c.spec.filterSubject, stream.messages[k]!.subject)) unread++;
    return unread + c.ready.length + c.inFlight.size;
  }

  async ping(): Promise<void> {
    if (this.closed) throw new BusError('CLOSED', 'bus closed');
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watchers.clear();
    clearInterval(this.saver);
    this.save();
    for (const c of this.consumers.values()) {
      c.subscribers = [];
      for (const t of c.timers) clearTimeout(t);
    }
  }
}
