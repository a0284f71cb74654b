import type { Kysely } from 'kysely';

/** chart-img.com requests per account and UTC day, shared by every chart-service replica. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('chart_img_usage')
    .addColumn('account', 'text', (c) => c.notNull())
    .addColumn('day', 'date', (c) => c.notNull())
    .addColumn('requests', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('chart_img_usage_pk', ['account', 'day'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('chart_img_usage').execute();
}
