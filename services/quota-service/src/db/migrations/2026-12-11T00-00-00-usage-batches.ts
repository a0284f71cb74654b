import type { Kysely } from 'kysely';

/**
 * A ledger row may stand for several requests (`usage.batch_recorded`): how many, and the slowest
 * (`duration_ms` is then their sum). Rows from `usage.recorded` are one request each.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('api_usage')
    .addColumn('requests', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('duration_ms_max', 'double precision')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('api_usage').dropColumn('requests').dropColumn('duration_ms_max').execute();
}
