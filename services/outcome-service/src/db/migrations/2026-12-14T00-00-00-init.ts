import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('outcomes')
    .addColumn('analysis_id', 'uuid', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('chart_id', 'uuid', (c) => c.notNull())
    .addColumn('symbol', 'text', (c) => c.notNull())
    .addColumn('interval', 'text', (c) => c.notNull())
    .addColumn('trading_style', 'text', (c) => c.notNull())
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('recommendation', 'text', (c) => c.notNull())
    .addColumn('entry_price', 'double precision')
    .addColumn('stop_loss', 'double precision')
    .addColumn('take_profit', 'double precision')
    .addColumn('confidence', 'integer', (c) => c.notNull())
    .addColumn('horizon_bars', 'integer', (c) => c.notNull())
    .addColumn('bars_source', 'text', (c) => c.notNull())
    .addColumn('signal_at', 'timestamptz', (c) => c.notNull())
    .addColumn('signal_close', 'double precision')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('filled_at', 'timestamptz')
    .addColumn('exit_at', 'timestamptz')
    .addColumn('exit_price', 'double precision')
    .addColumn('r_multiple', 'double precision')
    .addColumn('bars_held', 'integer')
    .addColumn('forward_return', 'double precision')
    .addColumn('resolved_at', 'timestamptz')
    .addColumn('pending', 'boolean', (c) => c.notNull())
    .addColumn('checked_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('outcomes_user_signal_idx')
    .on('outcomes')
    .columns(['user_id', 'signal_at'])
    .execute();
  await db.schema.createIndex('outcomes_chart_idx').on('outcomes').column('chart_id').execute();
  await db.schema
    .createIndex('outcomes_pending_idx')
    .on('outcomes')
    .column('checked_at')
    .where(sql.ref('pending'), '=', true)
    .execute();
}
