import { type Kysely, sql } from 'kysely';

/**
 * The gateway's work id of the request that created a chart: a retry of that request finds the
 * chart instead of making (and charging) another.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('charts').addColumn('idempotency_key', 'text').execute();
  await db.schema
    .createIndex('charts_idempotency_key_idx')
    .on('charts')
    .columns(['user_id', 'idempotency_key'])
    .unique()
    .where(sql.ref('idempotency_key'), 'is not', null)
    .execute();
}
