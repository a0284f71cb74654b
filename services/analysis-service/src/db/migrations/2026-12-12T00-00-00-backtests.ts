import { type Kysely, sql } from 'kysely';

/**
 * Backtests and their trades. A trade row is the job's checkpoint: a worker resumes at the step
 * after the last saved one. `leased_by`/`lease_until` say which worker runs a job and until when
 * it is trusted to; a lapsed lease (a crashed worker) lets another claim it.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('backtests')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('symbol', 'text', (c) => c.notNull())
    .addColumn('interval', 'text', (c) => c.notNull())
    .addColumn('from_at', 'timestamptz', (c) => c.notNull())
    .addColumn('to_at', 'timestamptz', (c) => c.notNull())
    .addColumn('step', 'integer', (c) => c.notNull())
    .addColumn('analyst', 'text', (c) => c.notNull())
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('trading_style', 'text', (c) => c.notNull())
    .addColumn('prompt', 'text')
    .addColumn('horizon', 'integer', (c) => c.notNull())
    .addColumn('seed', 'integer', (c) => c.notNull())
    .addColumn('total', 'integer', (c) => c.notNull())
    .addColumn('done', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('reservation_id', 'uuid')
    .addColumn('analyses_charged', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('baselines', 'jsonb')
    .addColumn('error_code', 'text')
    .addColumn('error_reason', 'text')
    .addColumn('leased_by', 'text')
    .addColumn('lease_until', 'timestamptz')
    .addColumn('idempotency_key', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('started_at', 'timestamptz')
    .addColumn('finished_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('backtests_user_created_idx')
    .on('backtests')
    .columns(['user_id', 'created_at desc'])
    .execute();
  await db.schema
    .createIndex('backtests_user_idempotency_key_idx')
    .on('backtests')
    .columns(['user_id', 'idempotency_key'])
    .unique()
    .execute();
  await db.schema
    .createIndex('backtests_unfinished_idx')
    .on('backtests')
    .column('created_at')
    .where(sql.ref('status'), 'in', ['queued', 'running'])
    .execute();
  await db.schema
    .createTable('backtest_trades')
    .addColumn('backtest_id', 'uuid', (c) => c.notNull().references('backtests.id').onDelete('cascade'))
    .addColumn('step', 'integer', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('recommendation', 'text', (c) => c.notNull())
    .addColumn('entry_price', 'double precision')
    .addColumn('stop_loss', 'double precision')
    .addColumn('take_profit', 'double precision')
    .addColumn('confidence', 'integer', (c) => c.notNull())
    .addColumn('outcome', 'jsonb', (c) => c.notNull())
    .addPrimaryKeyConstraint('backtest_trades_pk', ['backtest_id', 'step'])
    .execute();
}
