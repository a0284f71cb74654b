import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('analyses')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('chart_id', 'uuid', (c) => c.notNull())
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('prompt', 'text')
    .addColumn('trading_style', 'text', (c) => c.notNull())
    .addColumn('include_risk_management', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('confidence_threshold', 'integer')
    .addColumn('reservation_id', 'uuid')
    .addColumn('result', 'jsonb')
    .addColumn('recommendation', 'text')
    .addColumn('confidence', 'integer')
    .addColumn('model', 'text')
    .addColumn('tokens_used', 'integer')
    .addColumn('cost_usd', 'double precision')
    .addColumn('processing_ms', 'integer')
    .addColumn('error_code', 'text')
    .addColumn('error_reason', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('completed_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('analyses_user_created_idx')
    .on('analyses')
    .columns(['user_id', 'created_at desc'])
    .execute();
  await db.schema.createIndex('analyses_chart_idx').on('analyses').column('chart_id').execute();

  await db.schema
    .createTable('known_charts')
    .addColumn('chart_id', 'uuid', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('symbol', 'text', (c) => c.notNull())
    .addColumn('interval', 'text', (c) => c.notNull())
    .addColumn('object_key', 'text')
    .addColumn('external_url', 'text')
    .addColumn('config', 'jsonb', (c) => c.notNull())
    .addColumn('deleted', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
}
