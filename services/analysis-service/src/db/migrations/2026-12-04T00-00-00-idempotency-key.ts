import { type Kysely, sql } from 'kysely';

/**
 * The gateway's work id of the request that created an analysis: a retry of that request finds
 * the analysis instead of queueing (and charging) another.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('analyses').addColumn('idempotency_key', 'text').execute();
  await db.schema
    .createIndex('analyses_idempotency_key_idx')
    .on('analyses')
    .columns(['user_id', 'idempotency_key'])
    .unique()
    .where(sql.ref('idempotency_key'), 'is not', null)
    .execute();
}
