import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('known_charts')
    .addColumn('synthetic', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('content_type', 'text')
    .addColumn('size', 'integer')
    .addColumn('generated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('known_charts_user_idx').on('known_charts').column('user_id').execute();
  await db.schema
    .alterTable('analyses')
    .addColumn('symbol', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('interval', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('downloading_at', 'timestamptz')
    .addColumn('analysing_at', 'timestamptz')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .createIndex('analyses_chart_user_created_idx')
    .on('analyses')
    .columns(['chart_id', 'user_id', 'created_at desc'])
    .execute();
}
