import type { Kysely } from 'kysely';

/** When the plan was last set, so plan changes that arrive out of order keep the newest. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('user_quotas').addColumn('plan_set_at', 'timestamptz').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('user_quotas').dropColumn('plan_set_at').execute();
}
