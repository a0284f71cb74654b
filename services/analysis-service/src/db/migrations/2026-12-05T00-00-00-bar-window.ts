import type { Kysely } from 'kysely';

/** The bars a chart was drawn from (`chart.generated`'s `bars`), so its analysis reads exactly them. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('known_charts').addColumn('bars', 'jsonb').execute();
}
