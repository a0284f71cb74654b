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

/**
 * Forgets inbox entries older than `keepMs`: once an event has left its stream it cannot be
 * delivered again, so its entry guards nothing. Deletes in batches; returns how many went.
 */
export async function pruneInbox(db: Kysely<any>, keepMs: number, batch = 5_000): Promise<number> {
  const k = db as Kysely<KitTables>;
  const before = new Date(Date.now() - keepMs);
  let total = 0;
  for (;;) {
    const res = await k
      .deleteFrom('inbox')
      .where((eb) =>
        eb(
          eb.refTuple('consumer', 'event_id'),
          'in',
          eb
            .selectFrom('inbox')
            .select(['consumer', 'event_id'])
            .where('processed_at', '<', before)
            .limit(batch)
            .$asTuple('consumer', 'event_id'),
        ),
      )
      .executeTakeFirst();
    const n = Number(res.numDeletedRows);
    total += n;
    if (n < batch) return total;
  }
}
