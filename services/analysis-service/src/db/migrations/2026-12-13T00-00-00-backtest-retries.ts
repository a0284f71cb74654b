import type { Kysely } from 'kysely';

/** Transient failures in a row of a backtest (database, market data, chart-service away). */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('backtests')
    .addColumn('retries', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
}
