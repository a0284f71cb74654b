import { type Kysely, sql } from 'kysely';

/**
 * Multi-timeframe runs: one symbol on 2 to 4 intervals, an analysis per interval (kept in
 * `analyses` like any other), and their confluence once every analysis is final.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('multi_timeframe_runs')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('symbol', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('confluence', 'jsonb')
    .addColumn('idempotency_key', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('completed_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('multi_timeframe_runs_user_created_idx')
    .on('multi_timeframe_runs')
    .columns(['user_id', 'created_at desc'])
    .execute();
  await db.schema
    .createIndex('multi_timeframe_runs_idempotency_key_idx')
    .on('multi_timeframe_runs')
    .columns(['user_id', 'idempotency_key'])
    .unique()
    .where(sql.ref('idempotency_key'), 'is not', null)
    .execute();
  await db.schema
    .createTable('multi_timeframe_items')
    // An analysis belongs to one run at most: its completion finds the run by it.
    .addColumn('analysis_id', 'uuid', (c) => c.primaryKey())
    .addColumn('run_id', 'uuid', (c) => c.notNull().references('multi_timeframe_runs.id').onDelete('cascade'))
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('interval', 'text', (c) => c.notNull())
    .addColumn('chart_id', 'uuid', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('multi_timeframe_items_run_idx')
    .on('multi_timeframe_items')
    .columns(['run_id', 'position'])
    .execute();
}
