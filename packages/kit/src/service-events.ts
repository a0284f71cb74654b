import type { EventEnvelope } from '@chartwright/contracts';
import type { Compilable, Kysely, OperationNodeSource, QueryCreator, Transaction } from 'kysely';
import { enqueueEvents, executeWithEvent, type OutboxRelay } from './outbox.js';

/**
 * The base of each service's `src/events.ts`, the one place a service builds, stores and sends
 * its events: the subclass builds them (one method per event type, `makeEvent` with the service
 * as source); these store them in the outbox with the state change and send them after the commit.
 */
export class ServiceEvents {
  constructor(protected readonly relay: OutboxRelay) {}

  /**
   * Stores events in the outbox of `trx` (one statement): they commit, or roll back, with the
   * state change. Given the database itself, they are stored on their own.
   */
  async store(trx: Transaction<any> | Kysely<any>, ...events: EventEnvelope[]): Promise<void> {
    await enqueueEvents(trx, events);
  }

  /**
   * Runs `statement` and stores `event` in one statement (no transaction round trips), then sends
   * it. False when the statement changed no row: nothing was stored or sent.
   */
  async saveWith(
    db: Kysely<any>,
    statement: (qc: QueryCreator<any>) => OperationNodeSource & Compilable<unknown>,
    event: EventEnvelope,
  ): Promise<boolean> {
    const written = await executeWithEvent(db, statement, event);
    if (written) this.send([event]);
    return written;
  }

  /** Sends events whose transaction has committed; the relay retries any that fail. */
  send(events: readonly EventEnvelope[]): void {
    if (events.length) void this.relay.send(events);
  }

  /** Sends what is waiting in the outbox now (after a commit whose events are not in hand). */
  kick(): void {
    this.relay.kick();
  }
}
