import type { EventEnvelope } from '@chartwright/contracts';
import {
  type Compilable,
  type Kysely,
  type OperationNodeSource,
  type QueryCreator,
  sql,
  type Transaction,
} from 'kysely';
import type { Logger } from 'pino';
import type { MessageBus } from './bus/types.js';
import type { KitTables } from './db/kit-migrations.js';
import { encodeEvent, eventHeaders, publishEvent, publishTraced } from './events.js';
import { lazy, meter } from './metrics.js';

/** The relays running in this process: `/metrics` reports each outbox's backlog and age. */
const runningRelays = new Set<OutboxRelay>();
const outboxGauges = lazy(() => {
  const backlog = meter().createObservableGauge('chartwright.outbox.backlog', {
    description: 'Events written to the outbox and not yet published',
  });
  const oldest = meter().createObservableGauge('chartwright.outbox.oldest_age', {
    unit: 's',
    description: 'Age of the oldest unpublished outbox event (0 when empty)',
  });
  meter().addBatchObservableCallback(
    async (result) => {
      await Promise.all(
        [...runningRelays].map(async (relay) => {
          const row = await relay.backlog().catch(() => undefined);
          if (!row) return;
          const attrs = { 'chartwright.outbox': relay.name };
          result.observe(backlog, row.count, attrs);
          result.observe(oldest, row.oldestAgeSeconds, attrs);
        }),
      );
    },
    [backlog, oldest],
  );
  return { backlog, oldest };
});

/**
 * Writes an event in the caller's transaction, so it exists if and only if the state change
 * commits. The relay publishes it afterwards.
 */
export async function enqueueEvent(trx: Transaction<any> | Kysely<any>, event: EventEnvelope): Promise<void> {
  const headers = eventHeaders(event);
  await (trx as Kysely<KitTables>)
    .insertInto('outbox')
    .values({
      id: event.id,
      subject: event.type,
      payload: JSON.stringify(event),
      headers: JSON.stringify(headers) as never,
    })
    .execute();
}

/** Writes several events in one statement (one round trip), in the caller's transaction or not. */
export async function enqueueEvents(
  trx: Transaction<any> | Kysely<any>,
  events: readonly EventEnvelope[],
): Promise<void> {
  if (events.length === 0) return;
  await (trx as Kysely<KitTables>)
    .insertInto('outbox')
    .values(
      events.map((event) => ({
        id: event.id,
        subject: event.type,
        payload: JSON.stringify(event),
        headers: JSON.stringify(eventHeaders(event)) as never,
      })),
    )
    .execute();
}

/**
 * Runs `statement` and, when it returns a row, writes `event` to the outbox: both in one SQL
 * statement (a data-modifying CTE), as atomic as a transaction and one round trip instead of
 * four. Returns whether the statement returned a row (and so the event was written).
 */
export async function executeWithEvent(
  db: Kysely<any>,
  statement: (qc: QueryCreator<any>) => OperationNodeSource & Compilable<unknown>,
  event: EventEnvelope,
): Promise<boolean> {
  const written = await (db as Kysely<KitTables & { main: { id: unknown } }>)
    .with('main', statement as never)
    .insertInto('outbox')
    .columns(['id', 'subject', 'payload', 'headers'])
    .expression((eb) =>
      eb
        .selectFrom('main')
        .select([
          sql<string>`${event.id}::uuid`.as('id'),
          sql<string>`${event.type}::text`.as('subject'),
          sql<unknown>`${JSON.stringify(event)}::jsonb`.as('payload'),
          sql<Record<string, string>>`${JSON.stringify(eventHeaders(event))}::jsonb`.as('headers'),
        ])
        .limit(1),
    )
    .returning('id')
    .executeTakeFirst();
  return written !== undefined;
}

/**
 * `= any($1)` with one array parameter: the same SQL text for any number of ids, so it stays one
 * prepared statement (an `in (...)` list is a new statement for every length).
 */
const anyOf = (ids: readonly string[]) => sql<string>`any(${[...ids]}::uuid[])`;

export interface OutboxRelayOptions {
  /** How often to look for unpublished events when nothing kicks the relay. */
  intervalMs?: number;
  batchSize?: number;
  /** Names the outbox in metrics: the service's schema. */
  name?: string;
}

/**
 * Publishes outbox rows with `Nats-Msg-Id` = event id, then deletes them. Replicas share the
 * work with `FOR UPDATE SKIP LOCKED`. A crash after publish and before delete republishes the
 * same id, which the bus de-duplicates and consumers' inboxes ignore.
 */
export class OutboxRelay {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = true;
  private readonly published: string[] = [];
  private deleting?: Promise<void>;

  constructor(
    private readonly db: Kysely<any>,
    private readonly bus: MessageBus,
    private readonly logger: Logger,
    private readonly opts: OutboxRelayOptions = {},
  ) {}

  get name(): string {
    return this.opts.name ?? 'outbox';
  }

  start(): void {
    this.stopped = false;
    outboxGauges();
    runningRelays.add(this);
    this.kick();
  }

  /** Unpublished events and the age of the oldest, in seconds. */
  async backlog(): Promise<{ count: number; oldestAgeSeconds: number }> {
    const row = await (this.db as Kysely<KitTables>)
      .selectFrom('outbox')
      .select([
        sql<number>`count(*)::int`.as('count'),
        sql<number>`coalesce(extract(epoch from now() - min(created_at)), 0)::float8`.as('age'),
      ])
      .executeTakeFirstOrThrow();
    return { count: Number(row.count), oldestAgeSeconds: Math.max(0, Number(row.age)) };
  }

  /**
   * Publishes events whose outbox rows were just committed, without reading them back, then
   * deletes their rows. What fails to publish stays for the next pass. A pass
   * that picks a row up meanwhile publishes it again under the same id, which the bus drops.
   * Never throws: call it without awaiting.
   */
  async send(events: readonly EventEnvelope[]): Promise<void> {
    if (events.length === 0) return;
    const results = await Promise.allSettled(events.map((e) => publishEvent(this.bus, e)));
    const sent = events.filter((_, i) => results[i]!.status === 'fulfilled').map((e) => e.id);
    if (sent.length < events.length) {
      const err = (results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason;
      this.logger.warn(
        { err, failed: events.length - sent.length },
        'publish after commit failed; will retry',
      );
    }
    if (sent.length > 0) await this.forget(sent);
  }

  /**
   * Deletes published rows. Ids that arrive while a DELETE runs go into the next one, so under
   * load one statement clears many events. Resolves once these ids are gone.
   */
  private forget(ids: readonly string[]): Promise<void> {
    this.published.push(...ids);
    this.deleting ??= this.deletePublished();
    return this.deleting;
  }

  private async deletePublished(): Promise<void> {
    while (this.published.length > 0) {
      const ids = this.published.splice(0, 500);
      await (this.db as Kysely<KitTables>)
        .deleteFrom('outbox')
        .where('id', '=', anyOf(ids))
        .execute()
        .catch((err) => this.logger.warn({ err }, 'published outbox rows not deleted; a pass will'));
    }
    this.deleting = undefined;
  }

  /** Publish now (called after a commit that enqueued events). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.running = this.drain()
      .then(() => undefined)
      .catch((err) => this.logger.warn({ err }, 'outbox relay pass failed; will retry'))
      .finally(() => {
        this.running = undefined;
        if (this.stopped) return;
        if (this.again) {
          this.again = false;
          this.kick();
        } else {
          this.timer = setTimeout(() => this.kick(), this.opts.intervalMs ?? 1_000);
          this.timer.unref?.();
        }
      });
  }

  /** Publishes until the outbox is empty; returns how many were sent. */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const { sent, failed } = await this.pass();
      total += sent;
      // After a failure, wait for the next tick rather than spin against a broken bus.
      if (failed > 0) throw new Error(`${failed} outbox event(s) not published`);
      if (sent < (this.opts.batchSize ?? 100)) return total;
    }
  }

  private async pass(): Promise<{ sent: number; failed: number }> {
    const db = this.db as Kysely<KitTables>;
    return db.transaction().execute(async (trx) => {
      const rows = await trx
        .selectFrom('outbox')
        .select(['id', 'subject', 'payload', 'headers'])
        // Rows that keep failing go to the back: a batch full of them must not hold up the rest.
        .orderBy('attempts')
        .orderBy('id')
        .limit(this.opts.batchSize ?? 100)
        .forUpdate()
        .skipLocked()
        .execute();
      if (rows.length === 0) return { sent: 0, failed: 0 };
      // Published together: one connection keeps their order on the wire, and a pass waits for
      // one round of acknowledgements instead of one per event. A failed one is retried on the
      // next pass, after the ones behind it (consumers must not rely on order across events).
      const results = await Promise.allSettled(
        rows.map((row) => {
          const payload = typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload;
          return publishTraced(
            this.bus,
            row.subject,
            encodeEvent(payload as EventEnvelope),
            row.id,
            row.headers as Record<string, string>,
          );
        }),
      );
      const sent: string[] = [];
      for (const [i, r] of results.entries()) {
        const row = rows[i]!;
        if (r.status === 'fulfilled') {
          sent.push(row.id);
          continue;
        }
        const err = r.reason as Error;
        await trx
          .updateTable('outbox')
          .set((eb) => ({
            attempts: eb('attempts', '+', 1),
            last_error: String(err?.message ?? err).slice(0, 500),
          }))
          .where('id', '=', row.id)
          .execute();
        this.logger.warn({ err, id: row.id, subject: row.subject }, 'outbox publish failed');
      }
      if (sent.length) await trx.deleteFrom('outbox').where('id', '=', anyOf(sent)).execute();
      // Committed either way, so the sent ones are not sent again and the failures are counted.
      return { sent: sent.length, failed: rows.length - sent.length };
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    runningRelays.delete(this);
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    await this.deleting;
  }
}
