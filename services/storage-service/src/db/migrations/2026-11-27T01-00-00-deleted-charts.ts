import { type Kysely, sql } from 'kysely';

/**
 * Charts deleted by their owner. A copy of an external image that finishes after the delete finds
 * the chart here and is thrown away instead of being kept as an orphan.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('deleted_charts')
    .addColumn('chart_id', 'uuid', (c) => c.notNull())
    .addColumn('owner_id', 'uuid', (c) => c.notNull())
    .addColumn('deleted_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('deleted_charts_pk', ['chart_id', 'owner_id'])
    .execute();
  await db.schema.createIndex('deleted_charts_at_idx').on('deleted_charts').column('deleted_at').execute();
}
