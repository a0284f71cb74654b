import { type Kysely, sql } from 'kysely';

/** When the latest delivery claimed the job, so a job whose last delivery died can be found. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('analyses').addColumn('claimed_at', 'timestamptz').execute();
  await db.schema
    .createIndex('analyses_unfinished_idx')
    .on('analyses')
    .column('created_at')
    .where(sql.ref('status'), 'in', ['queued', 'downloading', 'analysing'])
    .execute();
}
