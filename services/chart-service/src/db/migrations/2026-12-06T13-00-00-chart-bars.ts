import type { Kysely } from 'kysely';

/** The bar window a built-in chart was drawn from, so its SVG export draws exactly the same bars. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('charts').addColumn('bars', 'jsonb').execute();
}
