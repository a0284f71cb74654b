import type { EventEnvelope } from '@chartwright/contracts';
import type { Kysely, Transaction } from 'kysely';
import type { Logger } from 'pino';
import type { MessageBus } from './bus/types.js';
import type { KitTables } from './db/kit-migrations.js';
import { encodeEvent } from './events.js';

/**
 * Writes an event in the caller's transaction, so it exists if and only if the state change
 * commits. The relay publishes it afterwards.
 */
export async function enqueueEvent(trx: Transaction<any> | Kysely<any>, event: EventEnvelope): Promise<void> {
  const headers: Record<string, string> = { 'Ce-Type': event.type };
  if (event.traceparent) headers.traceparent = event.traceparent;
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

export interface OutboxRelayOptions {
  /** How often to look for unpublished events when nothing kicks the relay. */
  intervalMs?: number;
  batchSize?: number;
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

  constructor(
    private readonly db: Kysely<any>,
    private readonly bus: MessageBus,
    private readonly logger: Logger,
    private readonly opts: OutboxRelayOptions = {},
  ) {}

  start(): void {
    this.stopped = false;
    this.kick();
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
      const n = await this.pass();
      total += n;
      if (n < (this.opts.batchSize ?? 100)) return total;
    }
  }

  private async pass(): Promise<number> {
    const db = this.db as Kysely<KitTables>;
    return db.transaction().execute(async (trx) => {
      const rows = await trx
        .selectFrom('outbox')
        .select(['id', 'subject', 'payload', 'headers'])
        .orderBy('id')
        .limit(this.opts.batchSize ?? 100)
        .forUpdate()
        .skipLocked()
        .execute();
      if (rows.length === 0) return 0;
      const sent: string[] = [];
      for (const row of rows) {
        try {
          const payload = typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload;
          await this.bus.publish(row.subject, encodeEvent(payload as EventEnvelope), {
            msgId: row.id,
            headers: row.headers as Record<string, string>,
          });
          sent.push(row.id);
        } catch (err) {
          // Keep order per relay: stop at the first failure and retry on the next pass.
          await trx
            .updateTable('outbox')
            .set((eb) => ({
              attempts: eb('attempts', '+', 1),
              last_error: String((err as Error).message).slice(0, 500),
            }))
            .where('id', '=', row.id)
            .execute();
          this.logger.warn({ err, id: row.id, subject: row.subject }, 'outbox publish failed');
          break;
        }
      }
      if (sent.length) await trx.deleteFrom('outbox').where('id', 'in', sent).execute();
      if (sent.length < rows.length) throw new Error('outbox publish incomplete');
      return sent.length;
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
