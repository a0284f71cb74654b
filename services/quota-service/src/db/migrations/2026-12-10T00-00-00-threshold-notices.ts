import { type Kysely, sql } from 'kysely';

/** Thresholds announced: one row per user, resource, threshold and month, so each is sent once. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('threshold_notices')
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('resource', 'text', (c) => c.notNull())
    .addColumn('threshold', 'integer', (c) => c.notNull())
    .addColumn('period_start', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('threshold_notices_pkey', ['user_id', 'resource', 'threshold', 'period_start'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('threshold_notices').execute();
}
