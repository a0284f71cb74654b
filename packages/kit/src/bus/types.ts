import type { StreamName } from '@chartwright/contracts';

export type Headers = Record<string, string>;

export interface PublishOptions {
  /** De-duplication id (`Nats-Msg-Id`): the event id. A repeat within the window is dropped. */
  msgId: string;
  headers?: Headers;
}

export interface PublishResult {
  seq: number;
  duplicate: boolean;
}

/** One delivery of a stored message to a durable consumer. */
export interface Delivery {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Headers;
  /** 1 on first delivery. */
  readonly deliveryCount: number;
  readonly streamSeq: number;
  ack(): void;
  /** Redeliver after `delayMs`. */
  nak(delayMs?: number): void;
  /** Never redeliver. */
  term(): void;
  /** Extend the ack deadline while work is still going on. */
  working(): void;
}

export interface ConsumerSpec {
  stream: StreamName;
  /** Durable name: one per consuming service and purpose, e.g. `quota-user-events`. */
  durable: string;
  /** One subject filter (NATS 2.9 has no multi-filter consumers), e.g. `user.>`. */
  filterSubject: string;
  /** Deliveries before the message is dead-lettered. */
  maxDeliver?: number;
  /** Delay before redelivery number n+1 after a failure (last value repeats). */
  backoffMs?: number[];
  /** How long a delivery may stay unacknowledged before it is redelivered. */
  ackWaitMs?: number;
  /** Messages handled at once by this process. */
  concurrency?: number;
  /**
   * Long jobs: take a message only when a slot is free (default: a few are fetched ahead, which
   * is faster for quick handlers). A message fetched ahead waits for a slot unheard, and past its
   * ack wait it is handed to another replica too.
   */
  longJobs?: boolean;
}

/** What `watch` follows: one subject filter of one stream, from the moment of the call. */
export interface WatchSpec {
  stream: StreamName;
  filterSubject: string;
  /**
   * Called when messages may have been missed (the connection was lost and restored, the server
   * recreated the consumer): the watcher should re-read the state it waits on.
   */
  onGap?: () => void;
}

/** A message seen by a watcher (no acknowledgement: watchers only observe). */
export interface WatchedMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Headers;
  readonly streamSeq: number;
}

export interface Subscription {
  /**
   * Stops taking new messages and waits for the ones in hand (for request/reply: until their
   * handlers have answered).
   */
  stop(): Promise<void>;
}

export type RawHandler = (delivery: Delivery) => Promise<void>;
/**
 * Answers one request. `signal` is aborted when the server stops (a drain): a handler that waits
 * (for a result, a slot) should then answer with what it has instead of holding the drain.
 */
export type RpcHandler = (payload: unknown, headers: Headers, signal: AbortSignal) => Promise<unknown>;

/**
 * The message bus: JetStream in production, in-process for the embedded mode. Both adapters
 * pass the same contract suite.
 */
export interface MessageBus {
  readonly kind: 'jetstream' | 'memory';
  /**
   * The service this connection authenticates as on a locked-down NATS (its credentials are
   * set): requests go out on `<subject>.<identity>`, which only it may publish. Unset: open bus.
   */
  readonly identity?: string;
  /** Creates or updates the streams of `@chartwright/contracts` `STREAMS`. */
  ensureStreams(): Promise<void>;
  publish(subject: string, data: Uint8Array, opts: PublishOptions): Promise<PublishResult>;
  /** Creates or updates the durable consumer and delivers to `handler` until stopped. */
  consume(spec: ConsumerSpec, handler: RawHandler): Promise<Subscription>;
  /**
   * Delivers every new message of the filter to this process: each watcher sees every message
   * (JetStream: an ephemeral ordered consumer; not shared, not acknowledged, gone when stopped).
   */
  watch(spec: WatchSpec, handler: (m: WatchedMessage) => Promise<void> | void): Promise<Subscription>;
  /** Serves request/reply on `subject` in queue group `queue` (replicas share the load). */
  serve(subject: string, queue: string, handler: RpcHandler): Promise<Subscription>;
  /**
   * Sends a request and waits for the reply. Throws `BusError` `NO_RESPONDERS` / `TIMEOUT`, and
   * `DISCONNECTED` at once when the connection to the server is lost (not after the timeout).
   */
  request(
    subject: string,
    payload: unknown,
    opts?: { timeoutMs?: number; headers?: Headers },
  ): Promise<unknown>;
  ping(): Promise<void>;
  /**
   * A durable consumer's lag: messages not yet delivered plus delivered and unacknowledged
   * (for `chartwright.consumer.pending` and KEDA's `lagThreshold`, which counts the same way).
   */
  consumerPending?(spec: ConsumerSpec): Promise<number>;
  /** Drains subscriptions and closes. */
  close(): Promise<void>;
}

export class BusError extends Error {
  constructor(
    readonly code: 'NO_RESPONDERS' | 'TIMEOUT' | 'CLOSED' | 'BAD_REPLY' | 'DISCONNECTED',
    message: string,
  ) {
    super(message);
    this.name = 'BusError';
  }
}

export const DEFAULT_BACKOFF_MS = [1_000, 5_000, 15_000, 30_000, 60_000];
export const DEFAULT_MAX_DELIVER = 6;
export const DEFAULT_ACK_WAIT_MS = 30_000;

export const backoffFor = (spec: ConsumerSpec, deliveryCount: number): number => {
  const list = spec.backoffMs ?? DEFAULT_BACKOFF_MS;
  return list[Math.min(deliveryCount - 1, list.length - 1)] ?? 1_000;
};

/** NATS subject matching with `*` (one token) and `>` (the rest). */
export function subjectMatches(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (f[i] !== '*' && f[i] !== s[i]) return false;
  }
  return f.length === s.length;
}

/** Runs at most `limit` tasks at once; `run` waits for a free slot. */
export class Limiter {
  private readonly active = new Set<Promise<void>>();
  constructor(private readonly limit: number) {}
  async run(task: () => Promise<void>): Promise<void> {
    while (this.active.size >= this.limit) await Promise.race(this.active);
    const p = task().finally(() => this.active.delete(p));
    this.active.add(p);
  }
  /** Waits for a free slot; returns how many are free. */
  async free(): Promise<number> {
    while (this.active.size >= this.limit) await Promise.race(this.active);
    return this.limit - this.active.size;
  }
  async idle(): Promise<void> {
    await Promise.allSettled([...this.active]);
  }
}
