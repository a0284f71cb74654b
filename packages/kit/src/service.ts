import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';
import type { Logger } from 'pino';
import type { ConsumerSpec, MessageBus, Subscription } from './bus/types.js';
import { type Database, type DatabaseTarget, openDatabase } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { consumeEvents, type EventRoute } from './events.js';
import type { ReadinessCheck } from './http/health.js';
import { pruneInbox } from './inbox.js';
import { OutboxRelay } from './outbox.js';
import type { RpcRoute } from './rpc.js';

const INBOX_KEEP_MS = 8 * 86_400_000;
const INBOX_PRUNE_EVERY_MS = 3_600_000;

/** What a host (a standalone process or the embedded app) gives each service. */
export interface ServiceRuntime {
  bus: MessageBus;
  database: DatabaseTarget;
  logger: Logger;
  env: Record<string, string | undefined>;
  /**
   * Aborted when the host starts to drain (SIGTERM): long waits inside a request (an analysis
   * the caller waits for) end early with what they have, so the drain is not held up by them.
   */
  draining?: AbortSignal;
}

/** A started service. */
export interface RunningService {
  readonly name: string;
  /** Readiness checks, merged into `/ready`. */
  readonly checks: Record<string, ReadinessCheck>;
  /** Registers HTTP routes (the gateway's API) on the host's server. */
  readonly routes?: (app: FastifyInstance) => Promise<void>;
  stop(): Promise<void>;
}

export type ServiceFactory = (rt: ServiceRuntime) => Promise<RunningService>;

/**
 * The common start of every service: open its schema, migrate it, start its outbox relay.
 * What it returns is stopped in reverse order by `stopAll`.
 */
export async function openServiceStore<DB>(
  rt: ServiceRuntime,
  schema: string,
  migrations: Record<string, Migration>,
): Promise<{ database: Database<DB>; relay: OutboxRelay }> {
  const database = openDatabase<DB>(rt.database, schema);
  try {
    const applied = await migrateToLatest(database.db, schema, migrations);
    if (applied.length) rt.logger.info({ schema, applied }, 'migrations applied');
  } catch (err) {
    await database.destroy();
    throw err;
  }
  const relay = new OutboxRelay(database.db, rt.bus, rt.logger, { name: schema });
  relay.start();
  // Streams keep events 7 days, so an inbox entry older than 8 can never be needed again.
  const prune = () =>
    pruneInbox(database.db, INBOX_KEEP_MS)
      .then((n) => n && rt.logger.info({ schema, removed: n }, 'old inbox entries removed'))
      .catch((err) => rt.logger.warn({ err, schema }, 'inbox not pruned'));
  const pruner = setInterval(prune, INBOX_PRUNE_EVERY_MS);
  pruner.unref();
  void prune();
  const destroy = database.destroy.bind(database);
  return {
    database: {
      ...database,
      destroy: async () => {
        clearInterval(pruner);
        await destroy();
      },
    },
    relay,
  };
}

/** Stops subscriptions first (no new work), then the relay, then the database. */
export async function stopAll(
  subscriptions: Subscription[],
  relay: OutboxRelay | undefined,
  database: { destroy(): Promise<void> } | undefined,
): Promise<void> {
  await Promise.allSettled(subscriptions.map((s) => s.stop()));
  await relay?.stop();
  await database?.destroy();
}

/** The time, as the service sees it: tests may pin it. */
export interface Clock {
  now(): Date;
}
export const systemClock: Clock = { now: () => new Date() };

/**
 * What every use case of a service works with. Each service's `src/context.ts` extends it with
 * what only it has (an object store, a renderer, an analyst…).
 */
export interface ServiceContext<DB, Config> {
  readonly db: Kysely<DB>;
  readonly bus: MessageBus;
  /** Sends events stored in the outbox; see each service's `src/events.ts`. */
  readonly relay: OutboxRelay;
  readonly config: Config;
  readonly logger: Logger;
  readonly clock: Clock;
}

/** One durable consumer and the event types it handles: a row of a service's `consumers.ts`. */
export interface ConsumerGroup {
  spec: ConsumerSpec;
  routes: readonly EventRoute[];
}

/**
 * Serves a service's handler table in its queue group and starts its consumers. On a failure
 * half-way, what did start is stopped before the error is thrown.
 */
export async function startMessaging(
  bus: MessageBus,
  logger: Logger,
  opts: { queue: string; handlers: readonly RpcRoute[]; consumers: readonly ConsumerGroup[] },
): Promise<Subscription[]> {
  const subs: Subscription[] = [];
  try {
    // One at a time, so a failure leaves `subs` holding everything that started.
    for (const h of opts.handlers) subs.push(await h.serve(bus, opts.queue, logger));
    for (const c of opts.consumers) subs.push(await consumeEvents(bus, c.spec, c.routes, logger));
  } catch (err) {
    await Promise.allSettled(subs.map((s) => s.stop()));
    throw err;
  }
  return subs;
}
