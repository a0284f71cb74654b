import type { Kysely, Transaction } from 'kysely';
import type { KitTables } from './db/kit-migrations.js';

/**
 * Applies `effect` for an event at most once per consumer: the event id is recorded in the same
 * transaction as the effect, so a redelivery finds it and changes nothing.
 * Returns false when the event had already been applied.
 */
export async function applyOnce<DB>(
  db: Kysely<DB>,
  consumer: string,
  eventId: string,
  effect: (trx: Transaction<DB>) => Promise<void>,
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const inserted = await (trx as unknown as Transaction<KitTables>)
      .insertInto('inbox')
      .values({ consumer, event_id: eventId })
      .onConflict((oc) => oc.columns(['consumer', 'event_id']).doNothing())
      .returning('event_id')
      .executeTakeFirst();
    if (!inserted) return false;
    await effect(trx);
    return true;
  });
}
